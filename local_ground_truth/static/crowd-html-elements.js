/*
 * Offline stand-in for https://assets.crowd.aws/crowd-html-elements.js, for the local runner.
 * Implements the crowd elements the question types use and submits the JSON the real ones produce
 * (ground-truth-contracts.md, the developer guide's element pages):
 *   crowd-classifier name=X categories='[...]'               -> {"X": {"label": "<category>"}}
 *   crowd-classifier-multi-select name=X categories='[...]'  -> {"X": {"labels": ["<category>", ...]}}
 *   crowd-checkbox name=X value=V (V defaults to "on")       -> {"X": {"V": true|false}}
 *   crowd-radio-group of crowd-radio-button name=X value=V   -> {"X": {"V": true|false}} per button (one checked
 *                                                                per group)
 *   (one object per button, keyed by its name: a later button of the same name replaces an earlier one's
 *   answer, which is why every button needs a name of its own and synth refuses shared ones)
 *   crowd-input / crowd-text-area name=X                     -> {"X": "text"} (omitted when empty)
 *   crowd-entity-annotation name=X labels='[{"label":..}]' text="..."
 *                                                            -> {"X": {"entities": [{"label", "startOffset",
 *                                                                "endOffset"}]}}, offsets in code points
 *   plain <input>/<textarea>/<select> with a name -> {"name": value} (radios and checkboxes: the checked one)
 * crowd-form adds a submit button unless it holds <crowd-button form-action="submit">, and fires a
 * cancelable "submit" event on itself first, so templates can validate and preventDefault(). Like the
 * real crowd-form it refuses to submit while a crowd-classifier has no category chosen, a
 * crowd-classifier-multi-select none, a required crowd-checkbox is unchecked or a field marked
 * `required` is empty (the server checks the same rules again: form_rules.py).
 * crowd-entity-annotation carries its own form and Submit button (the element page: never inside
 * crowd-form); fields placed inside it are submitted with it. Its labels are objects, as documented
 * (a template writes labels='[[entity-labels:<question>]]').
 * Attribute lists may be JSON or the element pages' single-quoted form ("['a', 'b']").
 * The answer is POSTed as JSON to window.LOCAL_GT_SUBMIT_URL, set by the runner's page; Submit is
 * disabled while it is on its way, and a refusal is shown with the server's reason and a link back.
 * On a preview (window.LOCAL_GT_PREVIEW, the message to show), Submit sends nothing and says so.
 * A submission that does not go out (the form's rules, or the server refused it) fires
 * "local-gt-submit-failed" on the form (detail.reason), so a template that let go of a draft on "submit"
 * can keep it again; inside Ground Truth the event never fires and nothing listens in vain.
 * Drafts: on the runner's task page (window.LOCAL_GT_DRAFT_KEY set, not a preview), what the worker chose or
 * typed in these crowd elements (categories, boxes, radio buttons, text fields) is kept in localStorage under
 * that key + "#elements" as they change, put back when the page is opened again (a reload, a crash, the next
 * day), as far as it still fits the page, and dropped once the server has accepted the answer. A template's
 * own fields (plain inputs, marked spans) are the template's to keep, as the NER template does.
 *
 * Layout, as the real elements lay out: crowd-classifier shows its header and classification-target
 * large in the main pane and, in a side panel that stays in view, its short instructions, a
 * "View full instructions" button (the full instructions open in a dialog), the categories and the
 * form's Submit. With one classifier on the page, keys 1-9 choose (or, multi-select, toggle) its
 * categories, as their buttons show, and Enter submits (outside text fields, buttons and links).
 * The page's --local-gt-top (set by the runner's task bar) is how far down the viewport the panel
 * may start.
 */
(function () {
  "use strict";
  var ON = "on";
  var CROWD_INPUTS = "crowd-classifier, crowd-classifier-multi-select, crowd-checkbox, crowd-radio-button, " +
    "crowd-input, crowd-text-area, crowd-entity-annotation";
  var groups = 0;
  var ids = 0;
  var KEYS = "123456789";  // shortcut keys of a classifier's categories, in order

  function text(tag, content, className) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  function whenParsed(callback) {  // an element's children exist once the document is parsed
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", callback);
    else setTimeout(callback, 0);
  }

  var STYLE = [
    "crowd-classifier, crowd-classifier-multi-select, crowd-entity-annotation { display: block; }",
    // As Ground Truth's own (Polymer's inline-block boxes): a button and its label wrap to the next line together.
    "crowd-radio-button, crowd-checkbox { display: inline-block; }",
    ".local-gt-classifier { display: grid; grid-template-columns: minmax(0, 1fr) minmax(250px, 300px); gap: 16px;",
    "  align-items: start; }",
    ".local-gt-main { min-width: 0; }",
    ".local-gt-main > classification-target { display: block; }",
    ".local-gt-header { font-size: 17px; font-weight: 600; margin: 2px 0 8px; }",
    ".local-gt-side { position: sticky; top: calc(var(--local-gt-top, 0px) + 8px); box-sizing: border-box;",
    "  max-height: calc(100vh - var(--local-gt-top, 0px) - 16px); display: flex; flex-direction: column; gap: 10px;",
    "  padding: 12px; border: 1px solid #d5dbe1; border-radius: 8px; background: #f8f9fa; font-size: 14px; }",
    ".local-gt-short { flex: 1 1 auto; min-height: 4em; overflow: auto; line-height: 1.4; }",
    ".local-gt-short h3, .local-gt-categories legend { font-size: 13px; text-transform: uppercase; letter-spacing: .04em;",
    "  color: #545b64; margin: 0 0 4px; padding: 0; }",
    ".local-gt-short p { margin: 0 0 6px; }",
    ".local-gt-full-button { align-self: flex-start; }",
    // A fieldset is as wide as its longest line by default: min-width 0 lets a long category wrap inside the panel.
    ".local-gt-categories { flex: none; border: 0; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px;",
    "  min-width: 0; }",
    ".local-gt-category { display: flex; align-items: center; gap: 8px; padding: 5px 8px; border: 1px solid #c6ccd2;",
    "  border-radius: 6px; background: #fff; cursor: pointer; }",
    ".local-gt-category:hover { border-color: #0972d3; }",
    ".local-gt-category:has(input:checked) { background: #e9f2fd; border-color: #0972d3; font-weight: 600; }",
    ".local-gt-category:has(input:focus-visible) { outline: 2px solid #0972d3; outline-offset: 1px; }",
    ".local-gt-category input { margin: 0; flex: none; }",
    ".local-gt-category span { min-width: 0; overflow-wrap: anywhere; }",
    ".local-gt-category kbd, .local-gt-submit kbd { flex: none; margin-left: auto; font: 12px ui-monospace, monospace; padding: 0 5px;",
    "  border: 1px solid #9ba7b4; border-bottom-width: 2px; border-radius: 3px; background: #fff; color: #333; }",
    ".local-gt-actions { flex: none; display: flex; flex-direction: column; gap: 6px; }",
    // A darker orange than Ground Truth's #ec7211, on which white text is 3.0:1: this one is 5.1:1 (WCAG AA).
    ".local-gt-submit { font: inherit; font-weight: 600; padding: 8px 14px; border-radius: 6px; border: 1px solid #b84d00;",
    "  background: #b84d00; color: #fff; cursor: pointer; display: inline-flex; align-items: center; gap: 10px; }",
    ".local-gt-submit:disabled { opacity: .6; cursor: progress; }",
    ".local-gt-actions .local-gt-submit { justify-content: center; }",
    ".local-gt-status:empty { display: none; }",
    ".local-gt-status { margin: 4px 0; color: #8d2a0b; }",
    ".local-gt-keys { color: #545b64; font-size: 12px; margin: 0; }",
    // A touch screen with no keyboard: the key hints would only puzzle (a keyboard attached brings them back).
    "@media (hover: none) and (pointer: coarse) { .local-gt-keys, .local-gt-category kbd, .local-gt-submit kbd {",
    "  display: none; } }",
    // A finger needs a 44 px target (WCAG 2.5.5): a category, a radio button's or a box's label, Submit.
    "crowd-radio-button > label, crowd-checkbox > label { display: inline-flex; align-items: center; gap: 4px;",
    "  cursor: pointer; }",
    "@media (pointer: coarse) { .local-gt-category, .local-gt-submit, .local-gt-full-button, .local-gt-dialog-head button {",
    "  min-height: 44px; } crowd-radio-button > label, crowd-checkbox > label { min-height: 44px; padding-right: 12px; }",
    "  crowd-radio-button input, crowd-checkbox input, .local-gt-category input { width: 20px; height: 20px; } }",
    "dialog.local-gt-dialog { max-width: min(860px, 92vw); max-height: 86vh; padding: 0; border: 1px solid #aab;",
    "  border-radius: 8px; }",
    "dialog.local-gt-dialog::backdrop { background: rgba(0, 0, 0, .45); }",
    ".local-gt-dialog-head { position: sticky; top: 0; display: flex; align-items: center; gap: 12px; padding: 10px 16px;",
    "  background: #f2f3f3; border-bottom: 1px solid #d5dbe1; }",
    ".local-gt-dialog-head h2 { font-size: 18px; margin: 0; flex: 1; }",
    ".local-gt-dialog-body { padding: 4px 18px 16px; line-height: 1.45; }",
    "crowd-text-area, crowd-input { display: block; margin: 10px 0; }",  // a whole-width field, its label above
    "crowd-text-area > label, crowd-input > label { display: block; font-size: 13px; color: #545b64; margin: 0 0 3px; }",
    "crowd-text-area > textarea, crowd-input > input { box-sizing: border-box; width: 100%; font: inherit; padding: 6px 8px; }",
    "crowd-form > .local-gt-submit { margin-top: 10px; }",
    "@media (max-width: 760px) { .local-gt-classifier { grid-template-columns: 1fr; }",
    "  .local-gt-side { position: static; max-height: none; } }"
  ].join("\n");

  function addStyle() {
    if (document.getElementById("local-gt-crowd-style")) return;
    var style = document.createElement("style");
    style.id = "local-gt-crowd-style";
    style.textContent = STYLE;
    (document.head || document.documentElement).appendChild(style);
  }
  addStyle();

  // The full instructions in a modal dialog, opened by a "View full instructions" button (Esc closes it).
  function instructionsDialog(full) {
    var dialog = document.createElement("dialog");
    dialog.className = "local-gt-dialog";
    var head = document.createElement("div");
    head.className = "local-gt-dialog-head";
    var title = text("h2", full.getAttribute("header") || "Full instructions");
    title.id = "local-gt-dialog-title-" + (++ids);
    dialog.setAttribute("aria-labelledby", title.id);
    var close = text("button", "Close");
    close.type = "button";
    close.addEventListener("click", function () { dialog.close(); });
    head.appendChild(title);
    head.appendChild(close);
    var body = document.createElement("div");
    body.className = "local-gt-dialog-body";
    body.appendChild(full);
    full.hidden = false;
    dialog.appendChild(head);
    dialog.appendChild(body);
    var open = text("button", "View full instructions", "local-gt-full-button");
    open.type = "button";
    open.setAttribute("aria-haspopup", "dialog");
    open.addEventListener("click", function () { dialog.showModal(); close.focus(); });
    return { dialog: dialog, button: open };
  }

  function parseList(raw) {
    var attempts = [raw || "", (raw || "").replace(/'/g, '"')];
    for (var i = 0; i < attempts.length; i++) {
      try {
        var value = JSON.parse(attempts[i]);
        return Array.isArray(value) ? value : null;
      } catch (e) { /* the next reading */ }
    }
    return null;
  }

  function valueOf(el) { return el.getAttribute("value") || ON; }

  // The container whose Submit sends this element's answer: its crowd-entity-annotation, else its crowd-form.
  function owner(el) { return el.parentElement ? el.parentElement.closest("crowd-entity-annotation, crowd-form") : null; }

  function mine(container, selector) {
    return Array.prototype.filter.call(container.querySelectorAll(selector), function (el) { return owner(el) === container; });
  }

  function collect(container) {
    var answer = {};
    mine(container, "crowd-classifier[name]").forEach(function (el) {
      var checked = el.querySelector("input[type=radio]:checked");
      if (checked) answer[el.getAttribute("name")] = { label: checked.value };
    });
    mine(container, "crowd-classifier-multi-select[name]").forEach(function (el) {
      answer[el.getAttribute("name")] = {
        labels: Array.prototype.map.call(el.querySelectorAll("input[type=checkbox]:checked"), function (i) { return i.value; })
      };
    });
    mine(container, "crowd-checkbox[name], crowd-radio-button[name]").forEach(function (el) {
      var box = el.querySelector("input");
      var state = {};
      state[valueOf(el)] = !!(box && box.checked);
      answer[el.getAttribute("name")] = state;
    });
    mine(container, "crowd-text-area[name], crowd-input[name]").forEach(function (el) {
      var field = el.querySelector("textarea, input");
      if (field && field.value !== "") answer[el.getAttribute("name")] = field.value;
    });
    if (container.tagName === "CROWD-ENTITY-ANNOTATION" && container.getAttribute("name")) {
      answer[container.getAttribute("name")] = { entities: (container._entities || []).map(function (e) {
        return { label: e.label, startOffset: e.startOffset, endOffset: e.endOffset };
      }) };
    }
    mine(container, "input[name], textarea[name], select[name]").forEach(function (el) {
      if (el.closest(CROWD_INPUTS) && el.closest(CROWD_INPUTS) !== container) return;
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) answer[el.name] = el.value;
        return;
      }
      answer[el.name] = el.value;
    });
    return answer;
  }

  // Why the form cannot be submitted yet, as crowd-form would say it; empty when it can.
  function missing(container) {
    var problems = [];
    mine(container, "crowd-classifier[name]").forEach(function (el) {
      if (!el.querySelector("input[type=radio]:checked")) {
        problems.push("Choose a category" + (el.getAttribute("header") ? "" : " for " + el.getAttribute("name")) + ".");
      }
    });
    mine(container, "crowd-classifier-multi-select[name]").forEach(function (el) {
      if (!el.querySelector("input[type=checkbox]:checked")) {
        problems.push("Choose at least one category" + (el.getAttribute("header") ? "" : " for " + el.getAttribute("name")) + ".");
      }
    });
    mine(container, "crowd-checkbox[required]").forEach(function (el) {
      var box = el.querySelector("input");
      if (!box || !box.checked) problems.push("Check \u201c" + (el.textContent.trim() || el.getAttribute("name")) + "\u201d.");
    });
    mine(container, "[required][name]").forEach(function (el) {
      if (el.matches("crowd-classifier, crowd-classifier-multi-select, crowd-checkbox, crowd-radio-button")) return;
      if (el.closest(CROWD_INPUTS) && el.closest(CROWD_INPUTS) !== el) return;
      var field = /^CROWD-/.test(el.tagName) ? el.querySelector("textarea, input") : el;
      if (el.type === "radio") {
        if (!container.querySelector('input[type=radio][name="' + CSS.escape(el.name) + '"]:checked')) {
          problems.push("Answer " + el.name + ".");
        }
      } else if (el.type === "checkbox") {
        if (!el.checked) problems.push("Check " + el.name + ".");
      } else if (!field || field.value === "") {
        problems.push((el.getAttribute("label") || el.getAttribute("name")) + " is required.");
      }
    });
    return problems.filter(function (p, i) { return problems.indexOf(p) === i; });
  }

  function show(status, message, backUrl) {
    if (!status) return;
    status.textContent = message;
    if (backUrl) {
      var back = document.createElement("a");
      back.href = backUrl;
      back.textContent = " Back to your queue";
      status.appendChild(back);
    }
  }

  function statusOf(container) { return mine(container, ".local-gt-status")[0] || container.querySelector(".local-gt-status"); }

  function submit(container) {
    var status = statusOf(container);
    var button = mine(container, ".local-gt-submit, crowd-button[form-action=submit]")[0];
    if (container._sending || container._broken) return;
    if (window.LOCAL_GT_PREVIEW) { show(status, window.LOCAL_GT_PREVIEW); notSent(container, window.LOCAL_GT_PREVIEW); return; }
    var event = new Event("submit", { cancelable: true });
    if (!container.dispatchEvent(event)) { notSent(container, "the page's own checks"); return; }
    var problems = missing(container);
    if (problems.length) { show(status, problems.join(" ")); notSent(container, problems.join(" ")); return; }
    var answer = collect(container);
    container._sending = true;
    if (button) { button.disabled = true; button.setAttribute("aria-disabled", "true"); }
    show(status, "Sending\u2026");
    fetch(window.LOCAL_GT_SUBMIT_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(answer)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (result) {
        if (!response.ok) {
          // The web server itself refuses a body over its size limit, in plain text, before the runner reads it.
          var error = new Error(result.error || (response.status === 413
            ? "the answer is larger than the server accepts (HTTP 413); nothing was recorded"
            : "the server answered HTTP " + response.status));
          error.back = result.back || window.LOCAL_GT_QUEUE_URL;
          error.answered = true;
          throw error;
        }
        return result;
      });
    }).then(function (result) {
      dropDraft();  // accepted: nothing left to lose on this page
      window.location.assign(result.next);
    }).catch(function (error) {
      container._sending = false;
      if (button) { button.disabled = false; button.removeAttribute("aria-disabled"); }
      if (error.answered) {
        show(status, "Could not submit: " + error.message, error.back || window.LOCAL_GT_QUEUE_URL);
      } else {  // no answer at all (the browser's own "Failed to fetch"): the queue is on that server too
        show(status, "Could not reach the labeling server (it may have stopped, or the network is down). Nothing was " +
             "recorded; your answer is still on this page: press Submit again once the server is back.");
      }
      notSent(container, error.message);
    });
  }

  // ---- drafts of what the worker chose or typed in the crowd elements (see the header).
  var DRAFTED = "crowd-classifier[name], crowd-classifier-multi-select[name], crowd-checkbox[name], " +
    "crowd-radio-button[name], crowd-text-area[name], crowd-input[name]";

  function draftKey() {
    return window.LOCAL_GT_DRAFT_KEY && !window.LOCAL_GT_PREVIEW ? window.LOCAL_GT_DRAFT_KEY + "#elements" : null;
  }

  function draftStore() { try { return window.localStorage; } catch (e) { return null; } }

  // Each drafted element by a name that survives a reload: its tag, name, value and place among its namesakes.
  function drafted(container) {
    var seen = {};
    return mine(container, DRAFTED).map(function (el) {
      var id = [el.tagName.toLowerCase(), el.getAttribute("name"), el.getAttribute("value") || ""].join("|");
      seen[id] = (seen[id] || 0) + 1;
      return { id: id + "|" + seen[id], el: el };
    });
  }

  function controlsOf(el) { return Array.prototype.slice.call(el.querySelectorAll("input, textarea")); }

  function saveDraft(container) {
    var key = draftKey(), store = draftStore();
    if (!key || !store || container._sending || !container._draftRestored) return;  // not before the kept one is back
    var values = {};
    drafted(container).forEach(function (item) {
      var controls = controlsOf(item.el);
      if (/^CROWD-(TEXT-AREA|INPUT)$/.test(item.el.tagName)) {
        if (controls[0] && controls[0].value !== "") values[item.id] = controls[0].value;
      } else {
        values[item.id] = controls.filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      }
    });
    if (container._entities) values["#entities"] = container._entities;
    try { store.setItem(key, JSON.stringify(values)); } catch (e) { /* full or refused: no draft, nothing else changes */ }
  }

  function dropDraft() {
    var key = draftKey(), store = draftStore();
    try { if (key && store) store.removeItem(key); } catch (e) { /* nothing kept */ }
  }

  // Put a kept draft back as far as it fits this page: an unknown element, category or value is left out.
  function restoreDraft(container) {
    var key = draftKey(), store = draftStore(), values = null;
    try { values = key && store ? JSON.parse(store.getItem(key) || "null") : null; } catch (e) { values = null; }
    if (!values || typeof values !== "object") return;
    if (container._restoreEntities && Array.isArray(values["#entities"])) container._restoreEntities(values["#entities"]);
    var used = {};
    drafted(container).forEach(function (item) {
      var kept = values[item.id], controls = controlsOf(item.el);
      used[item.id] = true;
      if (/^CROWD-(TEXT-AREA|INPUT)$/.test(item.el.tagName)) {
        if (typeof kept === "string" && controls[0] && controls[0].value === "") controls[0].value = kept;
      } else if (Array.isArray(kept)) {
        controls.forEach(function (c) {  // as kept, a box checked by the template but unchecked by the worker too
          var want = kept.indexOf(c.value) >= 0;
          if (c.checked !== want && !c.disabled) {
            c.checked = want;
            c.dispatchEvent(new Event("change", { bubbles: true }));
          }
        });
      }
    });
    // A choice or text kept for an element this page no longer has (the page changed since: another version of
    // the template or of this project): said, so that the worker looks again rather than submits without it.
    var lost = Object.keys(values).filter(function (id) {
      var kept = values[id];
      return id !== "#entities" && !used[id] && (typeof kept === "string" ? kept !== "" : Array.isArray(kept) && kept.length);
    });
    if (lost.length) {
      show(statusOf(container), "Some of what you chose or typed on this task before could not be put back (the page " +
           "has changed since): check every answer before you submit.");
    }
  }

  // Once every crowd element in the container is built (each builds when the document is parsed).
  function keepDrafts(container) {
    if (!draftKey()) return;
    whenParsed(function () {
      setTimeout(function () {
        restoreDraft(container);
        container._draftRestored = true;
        container.addEventListener("change", function () { saveDraft(container); });
        container.addEventListener("input", function () { saveDraft(container); });
      }, 0);
    });
  }

  function notSent(container, reason) {
    container.dispatchEvent(new CustomEvent("local-gt-submit-failed", { detail: { reason: reason } }));
  }

  function submitButton(container) {
    var button = text("button", "Submit", "local-gt-submit");
    button.type = "button";
    button.addEventListener("click", function () { submit(container); });
    return button;
  }

  function statusLine() {
    var status = text("p", "", "local-gt-status");
    status.setAttribute("role", "status");
    return status;
  }

  customElements.define("crowd-form", class extends HTMLElement {
    connectedCallback() {
      var self = this;
      if (this._ready) return;
      this._ready = true;
      var status = statusLine();
      whenParsed(function () {
        if (self.querySelector("crowd-entity-annotation")) {
          self._broken = true;  // as the element page says: it has a form of its own
          show(status, "This page cannot be submitted: crowd-entity-annotation carries its own form and must not be " +
               "inside crowd-form (see the crowd-entity-annotation element page).");
        } else if (!self.querySelector('crowd-button[form-action="submit"]')) {
          self.appendChild(submitButton(self));
        }
        self.appendChild(status);
        mine(self, "crowd-classifier, crowd-classifier-multi-select").forEach(adoptSubmit);
      });
      keepDrafts(this);
      this.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && e.target.tagName === "INPUT" && e.target.type !== "radio") e.preventDefault();
      });
    }
  });

  customElements.define("crowd-button", class extends HTMLElement {
    connectedCallback() {
      var self = this;
      this.setAttribute("role", "button");
      this.tabIndex = 0;
      this.addEventListener("click", function () {
        if (self.getAttribute("form-action") === "submit") submit(self.closest("crowd-form"));
      });
    }
  });

  // crowd-classifier and crowd-classifier-multi-select: the header and target in the main pane; short
  // instructions, the full instructions' button, the categories and the form's Submit in a side panel.
  function classifier(self, type) {
    var categories = parseList(self.getAttribute("categories")) || [];
    var name = self.getAttribute("name");
    var target = self.querySelector("classification-target");
    var full = self.querySelector("full-instructions");
    var short = self.querySelector("short-instructions");
    var layout = document.createElement("div");
    layout.className = "local-gt-classifier";
    var main = document.createElement("section");
    main.className = "local-gt-main";
    main.setAttribute("aria-label", "Task");
    if (self.getAttribute("header")) main.appendChild(text("h2", self.getAttribute("header"), "local-gt-header"));
    if (target) main.appendChild(target);
    var side = document.createElement("aside");
    side.className = "local-gt-side";
    side.setAttribute("aria-label", "Answer");
    if (short) {
      var shortBox = document.createElement("section");
      shortBox.className = "local-gt-short";
      shortBox.appendChild(text("h3", "Instructions"));
      shortBox.appendChild(short);
      short.hidden = false;
      side.appendChild(shortBox);
    }
    if (full) {
      var instructions = instructionsDialog(full);
      side.appendChild(instructions.button);
      self.appendChild(instructions.dialog);
    }
    var fieldset = document.createElement("fieldset");
    fieldset.className = "local-gt-categories";
    fieldset.appendChild(text("legend", type === "radio" ? "Choose one" : "Choose all that apply"));
    categories.forEach(function (category, index) {
      var label = document.createElement("label");
      label.className = "local-gt-category";
      var input = document.createElement("input");
      input.type = type;
      input.name = "local-gt-" + name;
      input.value = String(category);
      label.appendChild(input);
      label.appendChild(text("span", String(category)));
      if (index < KEYS.length) {
        var key = text("kbd", KEYS.charAt(index));
        key.title = "Press " + KEYS.charAt(index);
        key.setAttribute("aria-hidden", "true");  // a hint for the eye: aria-keyshortcuts tells the rest
        input.setAttribute("aria-keyshortcuts", KEYS.charAt(index));
        label.appendChild(key);
      }
      fieldset.appendChild(label);
    });
    side.appendChild(fieldset);
    if (self.hasAttribute("exclusion-category")) {
      side.appendChild(text("p", "(exclusion-category is not shown offline: choose the categories that apply.)",
                            "local-gt-note"));
    }
    var actions = document.createElement("div");
    actions.className = "local-gt-actions";
    side.appendChild(actions);
    self._actions = actions;
    layout.appendChild(main);
    layout.appendChild(side);
    self.insertBefore(layout, self.firstChild);
    adoptSubmit(self);
  }

  // With one classifier in its form, the form's Submit and status line sit in the classifier's panel
  // (in view beside the categories, as in Ground Truth's classifier), whichever of the two was built first.
  function adoptSubmit(el) {
    var form = el.closest("crowd-form");
    if (!form || !el._actions) return;
    var classifiers = mine(form, "crowd-classifier, crowd-classifier-multi-select");
    if (classifiers.length !== 1 || classifiers[0] !== el) return;
    var button = mine(form, ".local-gt-submit")[0];
    var status = mine(form, ".local-gt-status")[0];
    if (button) {
      if (!button.querySelector("kbd")) {
        var enter = text("kbd", "Enter");
        enter.setAttribute("aria-hidden", "true");  // the button is named "Submit"; aria-keyshortcuts says Enter
        button.appendChild(enter);
      }
      button.setAttribute("aria-keyshortcuts", "Enter");
      el._actions.appendChild(button);
    }
    if (status) el._actions.appendChild(status);
    if (button && !el._actions.querySelector(".local-gt-keys")) {
      el._actions.appendChild(text("p", "Keys: 1\u2013" + Math.min(KEYS.length, Math.max(1, el.querySelectorAll(
        ".local-gt-category").length)) + " choose a category; Enter sends the answer.", "local-gt-keys"));
    }
  }

  // Keys 1-9 and Enter for the page's one classifier (none with two or more: a key would be ambiguous).
  function typingIn(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !/^(radio|checkbox|button|submit|reset)$/.test(el.type);
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (document.querySelector("dialog[open]") || typingIn(e.target)) return;
    var classifiers = document.querySelectorAll("crowd-classifier, crowd-classifier-multi-select");
    if (classifiers.length !== 1 || !classifiers[0]._actions) return;
    var el = classifiers[0];
    var index = e.key.length === 1 ? KEYS.indexOf(e.key) : -1;
    var inputs = el.querySelectorAll(".local-gt-category input");
    if (index >= 0 && index < inputs.length) {
      e.preventDefault();
      var input = inputs[index];
      input.checked = input.type === "radio" ? true : !input.checked;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
      return;
    }
    if (e.key === "Enter" && !/^(BUTTON|A|SUMMARY|CROWD-BUTTON)$/.test(e.target.tagName || "")) {
      var form = el.closest("crowd-form");
      if (form) { e.preventDefault(); submit(form); }
    }
  });

  customElements.define("crowd-classifier", class extends HTMLElement {
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      whenParsed(function () { classifier(self, "radio"); });
    }
  });

  customElements.define("crowd-classifier-multi-select", class extends HTMLElement {
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      whenParsed(function () { classifier(self, "checkbox"); });
    }
  });

  // crowd-checkbox and crowd-radio-button: a native box whose label is the element's own content.
  function box(self, type, nativeName) {
    var label = document.createElement("label");
    var input = document.createElement("input");
    input.type = type;
    if (nativeName) input.name = nativeName;
    input.value = valueOf(self);
    input.checked = self.hasAttribute("checked");
    input.disabled = self.hasAttribute("disabled");
    label.appendChild(input);
    while (self.firstChild) label.appendChild(self.firstChild);
    self.appendChild(label);
  }

  customElements.define("crowd-checkbox", class extends HTMLElement {
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      whenParsed(function () { box(self, "checkbox", null); });
    }
  });

  customElements.define("crowd-radio-group", class extends HTMLElement {
    connectedCallback() {
      if (!this._group) this._group = "local-gt-group-" + (++groups);
      this.setAttribute("role", "radiogroup");
    }
  });

  customElements.define("crowd-radio-button", class extends HTMLElement {
    // As on the real element: whether the button is on (a template's own check of its radio groups reads it).
    get checked() { var box = this.querySelector("input"); return box ? box.checked : this.hasAttribute("checked"); }
    set checked(on) { var box = this.querySelector("input"); if (box) box.checked = !!on; }
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      whenParsed(function () {
        var group = self.closest("crowd-radio-group");
        if (group && !group._group) group._group = "local-gt-group-" + (++groups);
        box(self, "radio", group ? group._group : "local-gt-radio-" + self.getAttribute("name"));
      });
    }
  });

  // A field's `label` attribute shown above it and tied to it (its accessible name; clicking it focuses the field).
  var fieldCount = 0;
  function labelled(el, field) {
    if (!el.getAttribute("label")) return;
    field.id = field.id || "local-gt-field-" + (++fieldCount);
    var label = text("label", el.getAttribute("label"));
    label.htmlFor = field.id;
    el.appendChild(label);
  }

  // crowd-input and crowd-text-area expose their text as `value`, as the real elements do.
  function fieldValue(el) { var f = el.querySelector("textarea, input"); return f ? f.value : ""; }
  function setFieldValue(el, value) {
    var f = el.querySelector("textarea, input");
    if (f) { f.value = value; f.dispatchEvent(new Event("input")); }
  }

  // char-counter: how many characters are written, and of how many when max-length sets it. The count is the
  // field's description (read when the field is reached), not a live region: a screen reader read "15 / 10000" at
  // every key. Spoken once each: when the last tenth of the room (at least 10 characters) begins, and when none is left.
  var counters = 0;
  function charCounter(el, field) {
    if (!el.hasAttribute("char-counter")) return;
    var shown = document.createElement("span");
    shown.className = "crowd-char-counter";
    shown.id = "crowd-char-counter-" + (++counters);
    shown.style.cssText = "display:block;font-size:12px;color:#555;text-align:right";
    field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + shown.id).trim());
    var said = document.createElement("span");
    said.className = "crowd-char-said";
    said.setAttribute("aria-live", "polite");
    said.style.cssText = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap";
    var warned = "";
    function update() {
      shown.textContent = field.value.length + (field.maxLength > 0 ? " / " + field.maxLength : "");
      var left = field.maxLength > 0 ? field.maxLength - field.value.length : Infinity;
      var now = left <= 0 ? "none" : left <= Math.max(10, field.maxLength / 10) ? "few" : "";
      if (now !== warned) {
        warned = now;
        said.textContent = now === "none" ? "No characters left." : now === "few" ? left + " characters left." : "";
      }
    }
    field.addEventListener("input", update);
    update();
    el.appendChild(shown);
    el.appendChild(said);
  }

  customElements.define("crowd-text-area", class extends HTMLElement {
    get value() { return fieldValue(this); }
    set value(v) { setFieldValue(this, v); }

    connectedCallback() {
      if (this.querySelector("textarea")) return;
      var area = document.createElement("textarea");
      area.rows = Number(this.getAttribute("rows") || 3);
      area.placeholder = this.getAttribute("placeholder") || "";
      area.value = this.getAttribute("value") || "";
      if (this.getAttribute("max-length")) area.maxLength = Number(this.getAttribute("max-length"));
      labelled(this, area);
      this.appendChild(area);
      charCounter(this, area);
    }
  });

  customElements.define("crowd-input", class extends HTMLElement {
    get value() { return fieldValue(this); }
    set value(v) { setFieldValue(this, v); }

    connectedCallback() {
      if (this.querySelector("input")) return;
      var input = document.createElement("input");
      input.type = this.getAttribute("type") || "text";
      input.placeholder = this.getAttribute("placeholder") || "";
      input.value = this.getAttribute("value") || "";
      if (this.getAttribute("max-length")) input.maxLength = Number(this.getAttribute("max-length"));
      labelled(this, input);
      this.appendChild(input);
      charCounter(this, input);
    }
  });

  // crowd-entity-annotation: select text, pick a label; entities in Unicode code points of the text.
  customElements.define("crowd-entity-annotation", class extends HTMLElement {
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      whenParsed(function () { self._build(); });
    }

    _build() {
      var self = this;
      var status = statusLine();
      var labels = parseList(this.getAttribute("labels")) || [];
      var wrong = labels.filter(function (l) { return !l || typeof l !== "object" || typeof l.label !== "string"; });
      var extra = Array.prototype.filter.call(this.childNodes, function (n) {
        return !(n.nodeType === 1 && /^(FULL|SHORT)-INSTRUCTIONS$/.test(n.tagName));
      });
      var full = this.querySelector("full-instructions");
      var short = this.querySelector("short-instructions");
      if (this.closest("crowd-form") || wrong.length || !labels.length) {
        this._broken = true;
        show(status, this.closest("crowd-form")
          ? "crowd-entity-annotation carries its own form and must not be inside crowd-form."
          : "crowd-entity-annotation's labels must be a JSON list of objects with a \"label\" (as the element " +
            "page documents; a template writes labels='[[entity-labels:<question>]]').");
        this.appendChild(status);
        return;
      }
      var content = this.getAttribute("text") || "";
      var cp = codePoints(content);
      var labelNames = labels.map(function (l) { return l.label; });
      this._entities = (parseList(this.getAttribute("initial-value")) || []).filter(function (e) {
        return e && typeof e.label === "string" && e.startOffset < e.endOffset;
      }).sort(function (a, b) { return a.startOffset - b.startOffset; });

      var header = this.getAttribute("header") ? text("h2", this.getAttribute("header")) : null;
      var toolbar = document.createElement("div");
      toolbar.className = "local-gt-entity-labels";
      toolbar.setAttribute("role", "toolbar");
      var message = text("p", "", "local-gt-entity-message");
      message.setAttribute("aria-live", "polite");
      var view = document.createElement("div");
      view.className = "local-gt-entity-text";
      view.style.whiteSpace = "pre-wrap";
      var list = document.createElement("ul");
      list.className = "local-gt-entity-list";

      function render() {
        while (view.firstChild) view.removeChild(view.firstChild);
        var position = 0;
        function piece(tag, from, to) {
          var el = document.createElement(tag);
          el.setAttribute("data-start", String(from));
          el.appendChild(document.createTextNode(content.slice(from, to)));
          view.appendChild(el);
          return el;
        }
        self._entities.forEach(function (e) {
          var s = cp.toUnit(e.startOffset), t = cp.toUnit(e.endOffset);
          if (s > position) piece("span", position, s);
          var mark = piece("mark", s, t);
          mark.title = e.label;
          position = t;
        });
        if (position < content.length || !content.length) piece("span", position, content.length);
        saveDraft(self);
        while (list.firstChild) list.removeChild(list.firstChild);
        self._entities.forEach(function (e, index) {
          var item = document.createElement("li");
          item.appendChild(text("strong", e.label + ": "));
          item.appendChild(document.createTextNode(content.slice(cp.toUnit(e.startOffset), cp.toUnit(e.endOffset))));
          var remove = text("button", "\u00d7", "local-gt-entity-remove");
          remove.type = "button";
          remove.setAttribute("aria-label", "Remove this " + e.label + " entity");
          remove.addEventListener("click", function () { self._entities.splice(index, 1); render(); });
          item.appendChild(remove);
          list.appendChild(item);
        });
      }

      function unitOffset(node, offset) {
        if (node === view) {
          var child = view.childNodes[offset];
          return child ? Number(child.getAttribute("data-start")) : content.length;
        }
        var piece = node.nodeType === 3 ? node.parentNode : node;
        if (!piece || piece.parentNode !== view) return null;
        return Number(piece.getAttribute("data-start")) + (node.nodeType === 3 ? offset : 0);
      }

      function tag(label) {
        var selection = window.getSelection();
        if (!selection || !selection.rangeCount || selection.isCollapsed) { message.textContent = "Select some text first."; return; }
        var range = selection.getRangeAt(0), whole = document.createRange();
        whole.selectNodeContents(view);
        // A selection reaching past the text (a drag onto what follows it, a triple-click) tags the part inside it.
        var s = whole.comparePoint(range.startContainer, range.startOffset) < 0 ? 0
          : unitOffset(range.startContainer, range.startOffset);
        var t = whole.comparePoint(range.endContainer, range.endOffset) > 0 ? content.length
          : unitOffset(range.endContainer, range.endOffset);
        if (s === null || t === null || s >= t) { message.textContent = "Select some of the text first."; return; }
        var start = cp.toCodePoint(s), end = cp.toCodePoint(t);
        var same = self._entities.filter(function (e) { return e.startOffset === start && e.endOffset === end; })[0];
        var clash = self._entities.filter(function (e) { return start < e.endOffset && e.startOffset < end; });
        if (same) {
          same.label = label;
        } else if (clash.length) {
          message.textContent = "That selection overlaps the " + clash[0].label + " entity: select all of it to change " +
            "its label, or remove it first.";
          return;
        } else {
          self._entities.push({ label: label, startOffset: start, endOffset: end });
          self._entities.sort(function (a, b) { return a.startOffset - b.startOffset; });
        }
        selection.removeAllRanges();
        message.textContent = "Tagged as " + label + ".";
        render();
      }

      labels.forEach(function (l) {
        var button = text("button", l.fullDisplayName || l.label);
        button.type = "button";
        button.setAttribute("data-label", l.label);
        button.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep the selection
        button.addEventListener("click", function () { tag(l.label); });
        toolbar.appendChild(button);
      });
      var others = document.createElement("div");
      others.className = "local-gt-entity-fields";
      extra.forEach(function (node) { others.appendChild(node); });
      [header, short, toolbar, message, view, list].forEach(function (el) { if (el) self.appendChild(el); });
      if (short) short.hidden = false;
      if (full) {
        var instructions = instructionsDialog(full);
        self.appendChild(instructions.button);
        self.appendChild(instructions.dialog);
      }
      self.appendChild(others);
      self.appendChild(submitButton(self));
      self.appendChild(status);
      // A draft's entities replace the initial ones when each is a known label on a span of this text that
      // overlaps no other (anything else and the draft's entities are left out whole).
      self._restoreEntities = function (kept) {
        var total = cp.toCodePoint(content.length), end = 0;
        var valid = kept.filter(function (e) {
          return e && labelNames.indexOf(e.label) >= 0 && Number.isInteger(e.startOffset) &&
            Number.isInteger(e.endOffset) && e.startOffset >= 0 && e.startOffset < e.endOffset && e.endOffset <= total;
        }).map(function (e) { return { label: e.label, startOffset: e.startOffset, endOffset: e.endOffset }; })
          .sort(function (a, b) { return a.startOffset - b.startOffset; });
        var overlapping = valid.some(function (e) { var clash = e.startOffset < end; end = e.endOffset; return clash; });
        if (valid.length !== kept.length || overlapping) return;
        self._entities = valid;
        render();
      };
      render();
      keepDrafts(self);
    }
  });

  // Offsets in Unicode code points (what the element reports) <-> the DOM's UTF-16 indexes.
  function codePoints(content) {
    var before = new Array(content.length + 1);  // code points before each UTF-16 index
    var count = 0;
    for (var u = 0; u < content.length; u++) {
      before[u] = count;
      var c = content.charCodeAt(u);
      if (c >= 0xD800 && c <= 0xDBFF && u + 1 < content.length && (content.charCodeAt(u + 1) & 0xFC00) === 0xDC00) {
        before[++u] = count;  // inside a surrogate pair: the pair's start
      }
      count++;
    }
    before[content.length] = count;
    return {
      toCodePoint: function (unit) { return before[unit]; },
      toUnit: function (point) {
        var lo = 0, hi = content.length;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (before[mid] < point) lo = mid + 1; else hi = mid; }
        return lo;
      }
    };
  }

  ["classification-target", "full-instructions", "short-instructions"].forEach(function (tag) {
    customElements.define(tag, class extends HTMLElement {});
  });
})();
