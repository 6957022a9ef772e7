"""The REST API: each app contributes a django-ninja router; this module assembles them."""

from ninja import NinjaAPI

from canyu.accounts.auth import SessionOrgAuth, TokenAuth
from canyu.connectors.api import router as connectors_router
from canyu.feedback.api import router as feedback_router
from canyu.inbox.api import contacts_router, conversations_router, events_router
from canyu.notifications.api import router as notifications_router
from canyu.routing.api import router as routing_router
from canyu.sla.api import router as reports_router
from canyu.sla.api_config import router as sla_config_router
from canyu.text.api_rules import router as text_rules_router
from canyu.text.api_trends import router as text_trends_router

api = NinjaAPI(
    title="Canyu API",
    version="1",
    description="Service-first social media operations. Every endpoint is scoped to one organisation.",
    auth=[TokenAuth(), SessionOrgAuth()],
    urls_namespace="api-v1",
)
api.add_router("/events", events_router)
api.add_router("/conversations", conversations_router)
api.add_router("/conversations", feedback_router)
api.add_router("/contacts", contacts_router)
api.add_router("/channels", connectors_router)
api.add_router("/reports", reports_router)
api.add_router("/routing", routing_router)
api.add_router("/sla", sla_config_router)
api.add_router("/notifications", notifications_router)
api.add_router("/text/rules", text_rules_router)
api.add_router("/text/trends", text_trends_router)
