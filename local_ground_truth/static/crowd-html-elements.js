/*
 * Offline stand-in for https://assets.crowd.aws/crowd-html-elements.js, for the local runner.
 * Implements the crowd elements this project's templates use and submits the same JSON the real
 * ones produce (ground-truth-contracts.md):
 *   crowd-classifier name=X      -> {"X": {"label": "<category>"}}
 *   crowd-text-area / crowd-input -> {"X": "text"}  (omitted when empty)
 *   plain <input>/<textarea>/<select> with a name -> {"name": value} (radios: the checked one)
 *   crowd-form adds a submit button unless it holds <crowd-button form-action="submit">, and fires a
 *   cancelable "submit" event on itself first, so templates can validate and preventDefault().
 *   Like the real crowd-form it refuses to submit while a crowd-classifier has no category chosen
 *   or a field marked `required` is empty (the server checks the same rules again).
 * The answer is POSTed as JSON to window.LOCAL_GT_SUBMIT_URL, set by the runner's page; Submit is
 * disabled while it is on its way, and a refusal is shown with the server's reason and a link back.
 */
(function () {
  "use strict";

  function text(tag, content, className) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  function collect(form) {
    var answer = {};
    form.querySelectorAll("crowd-classifier[name]").forEach(function (el) {
      var checked = el.querySelector("input[type=radio]:checked");
      if (checked) answer[el.getAttribute("name")] = { label: checked.value };
    });
    form.querySelectorAll("crowd-text-area[name], crowd-input[name]").forEach(function (el) {
      var field = el.querySelector("textarea, input");
      if (field && field.value !== "") answer[el.getAttribute("name")] = field.value;
    });
    form.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (el) {
      if (el.closest("crowd-classifier, crowd-text-area, crowd-input")) return;
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) answer[el.name] = el.value;
        return;
      }
      answer[el.name] = el.value;
    });
    return answer;
  }

  // Why the form cannot be submitted yet, as crowd-form would say it; empty when it can.
  function missing(form) {
    var problems = [];
    form.querySelectorAll("crowd-classifier[name]").forEach(function (el) {
      if (!el.querySelector("input[type=radio]:checked")) {
        problems.push("Choose a category" + (el.getAttribute("header") ? "" : " for " + el.getAttribute("name")) + ".");
      }
    });
    form.querySelectorAll("[required][name]").forEach(function (el) {
      if (el.closest("crowd-classifier")) return;
      var field = /^CROWD-/.test(el.tagName) ? el.querySelector("textarea, input") : el;
      if (el.type === "radio") {
        if (!form.querySelector('input[type=radio][name="' + CSS.escape(el.name) + '"]:checked')) {
          problems.push("Answer " + el.name + ".");
        }
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

  function submit(crowdForm) {
    var status = crowdForm.querySelector(".local-gt-status");
    var button = crowdForm.querySelector(".local-gt-submit, crowd-button[form-action=submit]");
    if (crowdForm._sending) return;
    var event = new Event("submit", { cancelable: true });
    if (!crowdForm.dispatchEvent(event)) return;  // the template refused (its own validation)
    var problems = missing(crowdForm);
    if (problems.length) { show(status, problems.join(" ")); return; }
    var answer = collect(crowdForm);
    crowdForm._sending = true;
    if (button) { button.disabled = true; button.setAttribute("aria-disabled", "true"); }
    show(status, "Sending\u2026");
    fetch(window.LOCAL_GT_SUBMIT_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(answer)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (result) {
        if (!response.ok) {
          var error = new Error(result.error || ("the server answered HTTP " + response.status));
          error.back = result.back || window.LOCAL_GT_QUEUE_URL;
          throw error;
        }
        return result;
      });
    }).then(function (result) {
      window.location.assign(result.next);
    }).catch(function (error) {
      crowdForm._sending = false;
      if (button) { button.disabled = false; button.removeAttribute("aria-disabled"); }
      show(status, "Could not submit: " + error.message, error.back || window.LOCAL_GT_QUEUE_URL);
    });
  }

  customElements.define("crowd-form", class extends HTMLElement {
    connectedCallback() {
      var self = this;
      if (this._ready) return;
      this._ready = true;
      var status = text("p", "", "local-gt-status");
      status.setAttribute("role", "status");
      setTimeout(function () {  // children are parsed by now
        if (!self.querySelector('crowd-button[form-action="submit"]')) {
          var button = text("button", "Submit", "local-gt-submit");
          button.type = "button";
          button.addEventListener("click", function () { submit(self); });
          self.appendChild(button);
        }
        self.appendChild(status);
      }, 0);
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

  customElements.define("crowd-classifier", class extends HTMLElement {
    connectedCallback() {
      if (this._ready) return;
      this._ready = true;
      var self = this;
      setTimeout(function () {
        var categories = JSON.parse(self.getAttribute("categories") || "[]");
        var name = self.getAttribute("name");
        var target = self.querySelector("classification-target");
        var full = self.querySelector("full-instructions");
        var short = self.querySelector("short-instructions");
        var layout = document.createElement("div");
        layout.className = "local-gt-classifier";
        var side = document.createElement("aside");
        if (self.getAttribute("header")) side.appendChild(text("h2", self.getAttribute("header")));
        var fieldset = document.createElement("fieldset");
        fieldset.appendChild(text("legend", "Categories"));
        categories.forEach(function (category) {
          var label = document.createElement("label");
          var input = document.createElement("input");
          input.type = "radio";
          input.name = "local-gt-" + name;
          input.value = category;
          label.appendChild(input);
          label.appendChild(document.createTextNode(" " + category));
          fieldset.appendChild(label);
        });
        side.appendChild(fieldset);
        if (short) { short.hidden = false; side.appendChild(short); }
        if (full) {
          var details = document.createElement("details");
          details.appendChild(text("summary", full.getAttribute("header") || "Full instructions"));
          details.appendChild(full);
          side.appendChild(details);
        }
        var main = document.createElement("main");
        if (target) main.appendChild(target);
        layout.appendChild(main);
        layout.appendChild(side);
        self.appendChild(layout);
      }, 0);
    }
  });

  customElements.define("crowd-text-area", class extends HTMLElement {
    connectedCallback() {
      if (this.querySelector("textarea")) return;
      var area = document.createElement("textarea");
      area.rows = Number(this.getAttribute("rows") || 3);
      area.placeholder = this.getAttribute("placeholder") || "";
      if (this.getAttribute("label")) this.appendChild(text("label", this.getAttribute("label")));
      this.appendChild(area);
    }
  });

  customElements.define("crowd-input", class extends HTMLElement {
    connectedCallback() {
      if (this.querySelector("input")) return;
      var input = document.createElement("input");
      input.type = "text";
      input.placeholder = this.getAttribute("placeholder") || "";
      if (this.getAttribute("label")) this.appendChild(text("label", this.getAttribute("label")));
      this.appendChild(input);
    }
  });

  ["classification-target", "full-instructions", "short-instructions"].forEach(function (tag) {
    customElements.define(tag, class extends HTMLElement {});
  });
})();
