"""The worker loads the text models before its first task, not inside a pipeline batch."""

import pytest

from canyu.core.management.commands.worker import warm_up
from canyu.text import intent, sentiment


@pytest.mark.django_db
def test_warm_up_leaves_both_text_models_loaded():
    sentiment.model.cache_clear()
    intent.model.cache_clear()
    warm_up()
    assert sentiment.model.cache_info().currsize == 1
    assert intent.model.cache_info().currsize == 1
