/* Canyu agent console: the small amount of behaviour htmx does not give us.
 *
 * - the list keeps the selected row highlighted across its automatic refreshes;
 * - keyboard shortcuts (j/k, r, n, e, ?);
 * - the reply box: a character counter that knows the platform's limit, canned replies
 *   behind "/", Ctrl+Enter to send, and drafts kept per conversation until sent;
 * - waiting times that keep counting between refreshes;
 * - a notice when a request fails (the text stays in the box: nothing is swapped).
 *
 * No framework and nothing from the network. Every piece of user text is inserted with
 * textContent or as a form value, never as HTML.
 */
(function () {
  "use strict";

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  /* --- translated strings, rendered by the server into <template id="i18n-strings"> --- */

  function t(key, params) {
    const holder = $("#i18n-strings");
    const node = holder && holder.content.querySelector(`[data-key="${key}"]`);
    let text = node ? node.textContent : key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.replace(`%(${name})d`, String(value)).replace(`%(${name})s`, String(value));
    }
    return text;
  }

  function toast(message) {
    const box = $("#toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  /* --- selects that submit their form when changed (filters, language, organisation) --- */

  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });

  /* The keyword filter has its own form (in the sidebar): the other filter forms keep it. */
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method !== "get") return;
    if (!form.matches("form.filters, form.search") || form.elements.namedItem("keyword")) return;
    const own = $("form.keyword-filter input[name=keyword]");
    const keyword = own ? own.defaultValue : "";
    if (!keyword) return;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "keyword";
    hidden.value = keyword;
    form.appendChild(hidden);
  }, true);

  /* --- the list: selection survives refreshes --------------------------------------- */

  function rowsList() { return $("#rows"); }

  function markSelected(id) {
    const list = rowsList();
    if (!list) return null;
    list.dataset.selected = id || "";
    let selected = null;
    for (const row of $$(".row", list)) {
      const on = Boolean(id) && row.dataset.id === String(id);
      row.classList.toggle("selected", on);
      if (on) selected = row;
    }
    return selected;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest(".row-link");
    if (link) markSelected(link.closest(".row").dataset.id);
  });

  document.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    const list = rowsList();
    // The list's requests say which row is selected, so it comes back highlighted; a
    // refresh re-renders as many rows as are loaded, so "Load more" is not undone.
    if (list && (elt.id === "poller" || elt.closest(".more"))) {
      if (list.dataset.selected) event.detail.parameters.selected = list.dataset.selected;
      if (elt.id === "poller") event.detail.parameters.limit = String($$(".row", list).length);
    }
  });

  // A colleague's or the fan's change to the open conversation shows in its row first;
  // the pane offers to reload rather than replacing what the agent is reading or typing.
  function noticeStalePane() {
    const conv = $("#conv");
    const stale = $("#conv-stale");
    if (!conv || !stale) return;
    const row = document.getElementById(`row-${conv.dataset.conversationId}`);
    if (row && row.dataset.version && row.dataset.version !== conv.dataset.version) stale.hidden = false;
  }

  /* --- waiting times keep counting between refreshes -------------------------------- */

  function shortDuration(seconds) {
    let minutes = Math.max(0, Math.floor(seconds / 60));
    if (minutes < 1) return t("lt-1-min");
    if (minutes < 60) return t("min", { n: minutes });
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return minutes ? t("h-min", { h: hours, m: minutes }) : t("h", { h: hours });
    const days = Math.floor(hours / 24);
    hours %= 24;
    return hours ? t("d-h", { d: days, h: hours }) : t("d", { d: days });
  }

  function refreshWaits() {
    const now = Date.now();
    for (const node of $$("time.waited[datetime]")) {
      const since = Date.parse(node.getAttribute("datetime"));
      if (!Number.isNaN(since)) node.textContent = shortDuration((now - since) / 1000);
    }
  }
  setInterval(refreshWaits, 30000);

  /* --- the reply box ------------------------------------------------------------------ */

  function platformLength(text, counting) {
    const chars = Array.from(text);
    if (counting === "weibo") {
      // As Weibo counts: a Chinese character is one, an ASCII character half.
      const ascii = chars.filter((ch) => ch.codePointAt(0) < 128).length;
      return chars.length - ascii + Math.ceil(ascii / 2);
    }
    return chars.length;
  }

  function updateCounter(textarea) {
    const form = textarea.form;
    const counter = form && $("[data-counter]", form);
    if (!counter) return;
    const limit = Number(textarea.dataset.limit || 0);
    const length = platformLength(textarea.value, textarea.dataset.counting || "chars");
    counter.textContent = limit ? `${length} / ${limit}` : String(length);
    counter.classList.toggle("over", Boolean(limit) && length > limit);
  }

  const DRAFTS = "canyu:draft:";

  function saveDraft(textarea) {
    const key = textarea.form && textarea.form.dataset.draft;
    if (!key) return;
    try {
      if (textarea.value) sessionStorage.setItem(DRAFTS + key, textarea.value);
      else sessionStorage.removeItem(DRAFTS + key);
    } catch (_) { /* storage full or disabled: the box still holds the text */ }
  }

  function restoreDraft(textarea) {
    const key = textarea.form && textarea.form.dataset.draft;
    if (!key || textarea.value) return;
    try {
      const draft = sessionStorage.getItem(DRAFTS + key);
      if (draft) textarea.value = draft;
    } catch (_) { /* ignore */ }
  }

  function showTab(mode, focus) {
    const composer = $(".composer");
    if (!composer) return null;
    composer.dataset.mode = mode;
    for (const tab of $$("[data-tab]", composer)) {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === mode));
    }
    for (const panel of $$("[data-panel]", composer)) panel.hidden = panel.dataset.panel !== mode;
    const textarea = $(`[data-panel="${mode}"] textarea`, composer);
    if (textarea && focus) {
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    }
    return textarea;
  }

  document.addEventListener("click", (event) => {
    const tab = event.target.closest(".composer [data-tab]");
    if (tab) showTab(tab.dataset.tab, true);
  });

  document.addEventListener("input", (event) => {
    const textarea = event.target.closest(".composer textarea");
    if (!textarea) return;
    updateCounter(textarea);
    saveDraft(textarea);
    if (textarea.id === "reply-text") canned.update(textarea);
  });

  // A successful post empties the box on purpose: forget its draft before the new pane
  // (which would restore it) is swapped in.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.detail.requestConfig && event.detail.requestConfig.elt;
    const status = event.detail.xhr.status;
    if (form && form.dataset && form.dataset.draft && status >= 200 && status < 300) {
      try { sessionStorage.removeItem(DRAFTS + form.dataset.draft); } catch (_) { /* ignore */ }
    }
  });

  /* --- canned replies behind "/" ------------------------------------------------------ */

  const canned = {
    items: [],
    matches: [],
    active: 0,
    start: -1,

    load() {
      const data = $("#canned-replies");
      try { this.items = data ? JSON.parse(data.textContent) : []; } catch (_) { this.items = []; }
    },

    menu(textarea) { return textarea.parentElement.querySelector(".canned-menu"); },

    update(textarea) {
      const before = textarea.value.slice(0, textarea.selectionStart);
      const found = /(^|\s)\/([^\s/]*)$/.exec(before);
      if (!found || !this.items.length) { this.close(textarea); return; }
      const query = found[2].toLowerCase();
      this.start = before.length - found[2].length - 1;
      this.matches = this.items.filter((item) =>
        item.shortcut.toLowerCase().includes(query) || item.title.toLowerCase().includes(query));
      this.active = 0;
      this.render(textarea);
    },

    render(textarea) {
      const menu = this.menu(textarea);
      if (!menu) return;
      menu.replaceChildren();
      if (!this.matches.length) { menu.hidden = true; return; }
      this.matches.forEach((item, index) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(index === this.active));
        const key = document.createElement("span");
        key.className = "canned-key";
        key.textContent = "/" + item.shortcut;
        const title = document.createElement("strong");
        title.textContent = item.title;
        const text = document.createElement("span");
        text.className = "canned-text";
        text.textContent = item.text;
        li.append(key, title, text);
        li.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the box
          this.active = index;
          this.insert(textarea);
        });
        menu.append(li);
      });
      menu.hidden = false;
      const current = menu.children[this.active];
      if (current) current.scrollIntoView({ block: "nearest" });
    },

    isOpen(textarea) { const menu = this.menu(textarea); return Boolean(menu && !menu.hidden); },

    close(textarea) {
      const menu = this.menu(textarea);
      if (menu) { menu.hidden = true; menu.replaceChildren(); }
      this.matches = [];
    },

    move(textarea, step) {
      if (!this.matches.length) return;
      this.active = (this.active + step + this.matches.length) % this.matches.length;
      this.render(textarea);
    },

    insert(textarea) {
      const item = this.matches[this.active];
      if (!item) return;
      const end = textarea.selectionStart;
      textarea.setRangeText(item.text, this.start, end, "end");
      this.close(textarea);
      updateCounter(textarea);
      saveDraft(textarea);
      textarea.focus();
    },
  };

  document.addEventListener("focusout", (event) => {
    if (event.target.id === "reply-text") canned.close(event.target);
  });

  document.addEventListener("keydown", (event) => {
    const textarea = event.target.closest && event.target.closest(".composer textarea");
    if (!textarea) return;
    if (textarea.id === "reply-text" && canned.isOpen(textarea)) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        canned.move(textarea, event.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        canned.insert(textarea);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        canned.close(textarea);
        return;
      }
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      textarea.form.requestSubmit();
    }
  }, true);

  /* --- the conversation pane ------------------------------------------------------------ */

  function initPane() {
    const conv = $("#conv");
    if (!conv) return;
    const row = markSelected(conv.dataset.conversationId);
    if (row) row.scrollIntoView({ block: "nearest" });
    const thread = $("#thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
    canned.load();
    for (const textarea of $$(".composer textarea")) {
      restoreDraft(textarea);
      updateCounter(textarea);
    }
    // A refused post comes back with its text and the reason: put the agent back in it.
    const refused = $(".composer form:not([hidden]) .alert.error");
    if (refused) showTab(refused.closest("form").dataset.panel, true);
  }

  /* --- keyboard shortcuts --------------------------------------------------------------- */

  function move(step) {
    const rows = $$("#rows .row");
    if (!rows.length) return;
    const current = rows.findIndex((row) => row.classList.contains("selected"));
    const next = current === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, current + step));
    if (next === current) return;
    const link = $(".row-link", rows[next]);
    if (link) link.click();
    rows[next].scrollIntoView({ block: "nearest" });
  }

  function openHelp() {
    const help = $("#help");
    if (help && !help.open) help.showModal();
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-help-open]")) openHelp();
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if ($("#help") && $("#help").open) return;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "r": showTab("reply", true); break;
      case "n": showTab("note", true); break;
      case "e": {
        const resolve = $('#conv [data-action="resolve"]');
        if (resolve) resolve.click();
        break;
      }
      case "?": openHelp(); break;
      default: return;
    }
    event.preventDefault();
  });

  /* --- htmx lifecycle ------------------------------------------------------------------- */

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target) return;
    if (target.id === "pane") initPane();
    if (target.id === "rows" && listScroll !== null) {
      $("#list-scroll").scrollTop = listScroll;
      listScroll = null;
    }
    if (target.id === "rows" || (target.closest && target.closest("#rows")) || target.classList.contains("more")) {
      markSelected(rowsList() && rowsList().dataset.selected);
      refreshWaits();
      noticeStalePane();
    }
  });

  // A refresh must leave the list where the agent scrolled it.
  let listScroll = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const scroller = $("#list-scroll");
    if (scroller && event.detail.target && event.detail.target.id === "rows") {
      listScroll = scroller.scrollTop;
    }
  });

  // htmx settles a swapped element's class from the new markup; keep the highlight.
  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (target && target.id === "rows") markSelected(target.dataset.selected);
  });

  document.addEventListener("htmx:responseError", (event) => {
    // The poller's failures are silent (it tries again in a few seconds).
    if (event.detail.elt && event.detail.elt.id === "poller") return;
    toast(t("server-error"));
  });

  document.addEventListener("htmx:sendError", (event) => {
    if (event.detail.elt && event.detail.elt.id === "poller") return;
    toast(t("send-failed"));
  });

  document.addEventListener("DOMContentLoaded", () => {
    initPane();
    refreshWaits();
  });
})();
