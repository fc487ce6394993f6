// The process modeler page: bpmn-js Modeler with a small properties panel (names, lane groups,
// forms, conditions, default flows, timers, scripts), the JSON Schema form editor, and
// Save draft / Validate / Deploy through /api/v1/drafts. The page's data (files, URLs,
// translated messages) is the JSON in #modeler-data. The bpmn-js instance is window.modeler.
(function () {
  "use strict";

  var SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn";
  var FORM_PROPERTY = "formJsonSchemaFilename";
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];
  var ID_PATTERN = /^[A-Za-z_][\w.-]*$/;
  var FORM_NAME = /^[^\/\\:*?"<>|\s.][^\/\\:*?"<>|\s]*\.json$/i;
  var NEW_FORM = '{\n  "type": "object",\n  "title": "",\n  "properties": {},\n  "required": []\n}\n';

  var data = JSON.parse(document.getElementById("modeler-data").textContent);
  var text = data.text;
  var reviewing = data.pending !== null;
  var state = {
    files: Object.assign({}, data.files),
    diagram: data.diagram,
    form: null,
    draft: data.draft,      // {id, revision} once the page holds a saved draft
    version: data.version,  // the version the draft is based on
    dirty: false,
    busy: false,
    edited: {},             // diagram file name -> true once changed in the modeler
  };

  function byId(id) { return document.getElementById(id); }

  function fmt(message, values) {
    return String(message).replace(/%\((\w+)\)s/g, function (_match, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : "";
    });
  }

  function setStatus(message, kind) {
    var el = byId("modeler-status");
    el.textContent = message;
    el.className = "modeler-status" + (kind ? " " + kind : "");
    el.dataset.state = kind || "";
  }

  function clearResult() { byId("modeler-result").textContent = ""; }

  function link(href, label, id) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (id) { a.id = id; }
    return a;
  }

  function showResultLinks(version) {
    var box = byId("modeler-result");
    box.textContent = "";
    var p = document.createElement("p");
    if (data.urls.library) {
      p.appendChild(link(data.urls.library, text.library, "library-link"));
      p.appendChild(document.createTextNode(" · "));
    }
    p.appendChild(link(data.urls.edit + "?version=" + version, fmt(text.editVersion, { v: version }), "edit-new-version"));
    box.appendChild(p);
  }

  // -- the JSON API ---------------------------------------------------------------------------

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function call(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Language": document.documentElement.lang || "zh-CN",
        "X-CSRFToken": csrfToken(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.text().then(function (raw) {
        var parsed = null;
        try { parsed = raw ? JSON.parse(raw) : null; } catch (_e) { parsed = null; }
        return { status: response.status, body: parsed };
      });
    });
  }

  function reason(result) {
    var body = result.body || {};
    var detail = "";
    if (body.errors && !Array.isArray(body.errors) && typeof body.errors === "object") {
      detail = Object.keys(body.errors).map(function (k) { return k + ": " + [].concat(body.errors[k]).join(" "); })
        .join("; ");
    }
    return (body.message || ("HTTP " + result.status)) + (detail ? " (" + detail + ")" : "");
  }

  function failure(message) {
    var err = new Error(message);
    err.userMessage = message;
    return err;
  }

  // -- the modeler ----------------------------------------------------------------------------

  var container = byId("modeler-canvas");
  var modeler = new window.BpmnJS({ container: container });
  window.modeler = modeler;

  function svc(name) { return modeler.get(name); }

  function importDiagram(name) {
    container.dataset.loaded = "loading";
    return modeler.importXML(state.files[name]).then(function () {
      svc("canvas").zoom("fit-viewport");
      container.dataset.loaded = "true";
      renderProperties();
    }).catch(function (err) {
      container.dataset.loaded = "error";
      var message = err.message || String(err);
      setStatus(/no diagram to display/.test(message) ? text.noLayout : fmt(text.failed, { reason: message }), "bad");
    });
  }

  // Only an edited diagram is exported: bpmn-js reformats the XML, and an untouched file must
  // keep its bytes (and so the version's content hash) to deploy as "unchanged".
  function storeDiagram() {
    if (container.dataset.loaded !== "true" || !state.edited[state.diagram]) {
      return Promise.resolve();
    }
    return modeler.saveXML({ format: true }).then(function (result) {
      state.files[state.diagram] = result.xml;
    });
  }

  function collect() {
    return storeDiagram().then(function () {
      storeForm();
      return Object.assign({}, state.files);
    });
  }

  // -- properties panel -----------------------------------------------------------------------

  function isA(bo, type) { return bo && typeof bo.$instanceOf === "function" && bo.$instanceOf(type); }

  function definitions() { return modeler.getDefinitions(); }

  // The prefix a namespace has in this document; declared on <definitions> when new.
  function prefixFor(uri, fallback) {
    var attrs = definitions().$attrs || {};
    for (var key in attrs) {
      if (key.indexOf("xmlns:") === 0 && attrs[key] === uri) { return key.slice(6); }
    }
    attrs["xmlns:" + fallback] = uri;
    return fallback;
  }

  // camunda:/activiti:/flowable: attribute names present on an element (e.g. "camunda:formKey").
  function foreignKey(bo, local) {
    var attrs = bo.$attrs || {};
    for (var key in attrs) {
      if (key.indexOf("xmlns:") !== 0 && key.split(":")[1] === local) { return key; }
    }
    return null;
  }

  function spiffProperties(bo) {
    var ext = bo.extensionElements;
    var values = (ext && ext.values) || [];
    for (var i = 0; i < values.length; i++) {
      var type = values[i].$type || "";
      if (type.split(":")[1] === "properties" && values[i].$descriptor && values[i].$descriptor.ns &&
          values[i].$descriptor.ns.uri === SPIFF_NS) {
        return values[i];
      }
    }
    return null;
  }

  function formProperty(props) {
    return props ? (props.$children || []).filter(function (c) { return c.name === FORM_PROPERTY; })[0] : null;
  }

  function formOf(bo) {
    var prop = formProperty(spiffProperties(bo));
    if (prop) { return prop.value || ""; }
    var key = foreignKey(bo, "formKey");
    return key ? bo.$attrs[key] : "";
  }

  function setForm(element, value) {
    var modeling = svc("modeling");
    var moddle = svc("moddle");
    var bo = element.businessObject;
    var props = spiffProperties(bo);
    var existing = formProperty(props);
    if (existing) {
      if (value) {
        modeling.updateModdleProperties(element, existing, { value: value });
      } else {
        modeling.updateModdleProperties(element, props, {
          $children: props.$children.filter(function (c) { return c !== existing; }),
        });
      }
      return;
    }
    var foreign = foreignKey(bo, "formKey");
    if (foreign) {
      var update = {};
      update[foreign] = value || undefined;
      modeling.updateProperties(element, update);
      return;
    }
    if (!value) { return; }
    var prefix = prefixFor(SPIFF_NS, "spiffworkflow");
    var prop = moddle.createAny(prefix + ":property", SPIFF_NS, { name: FORM_PROPERTY, value: value });
    if (props) {
      prop.$parent = props;
      modeling.updateModdleProperties(element, props, { $children: (props.$children || []).concat([prop]) });
      return;
    }
    props = moddle.createAny(prefix + ":properties", SPIFF_NS, {});
    props.$children = [prop];
    prop.$parent = props;
    var ext = bo.extensionElements;
    if (ext) {
      props.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: (ext.values || []).concat([props]) });
    } else {
      ext = moddle.create("bpmn:ExtensionElements", { values: [props] });
      props.$parent = ext;
      modeling.updateProperties(element, { extensionElements: ext });
    }
  }

  function setCandidateGroups(element, value) {
    var bo = element.businessObject;
    var key = foreignKey(bo, "candidateGroups") || prefixFor(CAMUNDA_NS, "camunda") + ":candidateGroups";
    var groups = value.split(/[,，]/).map(function (g) { return g.trim(); }).filter(Boolean).join(",");
    var update = {};
    update[key] = groups || undefined;
    svc("modeling").updateProperties(element, update);
  }

  function timerOf(bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return isA(d, "bpmn:TimerEventDefinition"); })[0] || null;
  }

  function control(tag, id, value, onchange) {
    var el = document.createElement(tag);
    if (tag === "input") { el.type = "text"; }
    if (tag === "textarea") { el.rows = 4; }
    el.id = id;
    el.value = value || "";
    el.readOnly = reviewing;
    el.addEventListener("change", function () { onchange(el.value, el); });
    return el;
  }

  function field(label, el, help) {
    var wrap = document.createElement("div");
    wrap.className = "field";
    var lab = document.createElement("label");
    lab.htmlFor = el.id;
    lab.textContent = label;
    wrap.appendChild(lab);
    wrap.appendChild(el);
    if (help) {
      var p = document.createElement("p");
      p.className = "help";
      p.id = el.id + "-help";
      p.textContent = help;
      el.setAttribute("aria-describedby", p.id);
      wrap.appendChild(p);
    }
    return wrap;
  }

  function checkbox(id, label, checked, onchange) {
    var wrap = document.createElement("div");
    wrap.className = "field";
    var check = document.createElement("div");
    check.className = "check";
    var el = document.createElement("input");
    el.type = "checkbox";
    el.id = id;
    el.checked = checked;
    el.disabled = reviewing;
    el.addEventListener("change", function () { onchange(el.checked); });
    var lab = document.createElement("label");
    lab.htmlFor = id;
    lab.textContent = label;
    check.appendChild(el);
    check.appendChild(lab);
    wrap.appendChild(check);
    return wrap;
  }

  function formDatalist() {
    var list = document.createElement("datalist");
    list.id = "prop-form-options";
    formNames().forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      list.appendChild(option);
    });
    return list;
  }

  function renderProperties() {
    var body = byId("properties-body");
    var selected = container.dataset.loaded === "true" ? svc("selection").get() : [];
    body.textContent = "";
    if (selected.length !== 1) {
      var hint = document.createElement("p");
      hint.className = "muted";
      hint.textContent = text.noSelection;
      body.appendChild(hint);
      return;
    }
    var element = selected[0].labelTarget || selected[0];
    var bo = element.businessObject;
    var modeling = svc("modeling");
    var moddle = svc("moddle");
    body.dataset.element = bo.id;

    var title = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = text.types[bo.$type] || bo.$type.replace(/^bpmn:/, "");
    title.appendChild(strong);
    body.appendChild(title);

    var idInput = control("input", "prop-id", bo.id, function (value, el) {
      var taken = value !== bo.id && moddle.ids && moddle.ids.assigned(value);
      if (!ID_PATTERN.test(value) || taken) {
        el.setAttribute("aria-invalid", "true");
        byId("prop-id-help").textContent = text.idInvalid;
        el.value = bo.id;
        return;
      }
      el.removeAttribute("aria-invalid");
      byId("prop-id-help").textContent = "";
      if (value !== bo.id) { modeling.updateProperties(element, { id: value }); }
    });
    body.appendChild(field(text.id, idInput, " "));

    if (!isA(bo, "bpmn:Process")) {
      body.appendChild(field(text.name, control("input", "prop-name", bo.name, function (value) {
        modeling.updateLabel(element, value);
      }), isA(bo, "bpmn:Lane") ? text.laneHelp : null));
    }

    if (isA(bo, "bpmn:UserTask")) {
      var doc = (bo.documentation || [])[0];
      body.appendChild(field(text.documentation, control("textarea", "prop-documentation", doc ? doc.text : "",
        function (value) {
          modeling.updateProperties(element, {
            documentation: value ? [moddle.create("bpmn:Documentation", { text: value })] : [],
          });
        })));
      var groupsKey = foreignKey(bo, "candidateGroups");
      body.appendChild(field(text.candidateGroups, control("input", "prop-candidate-groups",
        groupsKey ? bo.$attrs[groupsKey] : "", function (value) { setCandidateGroups(element, value); }),
        text.candidateGroupsHelp));
    }

    if (isA(bo, "bpmn:UserTask") || (isA(bo, "bpmn:StartEvent") && !(bo.eventDefinitions || []).length)) {
      var formInput = control("input", "prop-form", formOf(bo), function (value) { setForm(element, value.trim()); });
      formInput.setAttribute("list", "prop-form-options");
      body.appendChild(field(text.form, formInput, text.formHelp));
      body.appendChild(formDatalist());
    }

    if (isA(bo, "bpmn:ScriptTask")) {
      var script = control("textarea", "prop-script", bo.script, function (value) {
        modeling.updateProperties(element, { script: value || undefined, scriptFormat: bo.scriptFormat || "python" });
      });
      script.rows = 8;
      body.appendChild(field(text.script, script));
    }

    if (isA(bo, "bpmn:SequenceFlow") && element.source) {
      var source = element.source.businessObject;
      if (isA(source, "bpmn:ExclusiveGateway") || isA(source, "bpmn:InclusiveGateway")) {
        var isDefault = source.default === bo;
        var expression = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
        var condition = control("textarea", "prop-condition", expression, function (value) {
          modeling.updateProperties(element, {
            conditionExpression: value.trim() ? moddle.create("bpmn:FormalExpression", { body: value.trim() }) : undefined,
          });
        });
        condition.disabled = isDefault;
        body.appendChild(field(text.condition, condition, text.conditionHelp));
        body.appendChild(checkbox("prop-default", text.defaultFlow, isDefault, function (checked) {
          if (checked && bo.conditionExpression) {
            modeling.updateProperties(element, { conditionExpression: undefined });
          }
          modeling.updateProperties(element.source, { "default": checked ? bo : null });
          renderProperties();
        }));
      }
    }

    var timer = timerOf(bo);
    if (timer) {
      var kind = TIMER_KINDS.filter(function (k) { return timer[k]; })[0] || "timeDuration";
      var select = document.createElement("select");
      select.id = "prop-timer-kind";
      select.disabled = reviewing;
      TIMER_KINDS.forEach(function (k) {
        var option = document.createElement("option");
        option.value = k;
        option.textContent = text[k];
        option.selected = k === kind;
        select.appendChild(option);
      });
      var valueInput = null;
      var apply = function () {
        var update = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
        var value = valueInput.value.trim();
        if (value) { update[select.value] = moddle.create("bpmn:FormalExpression", { body: value }); }
        modeling.updateModdleProperties(element, timer, update);
      };
      valueInput = control("input", "prop-timer-value", timer[kind] ? timer[kind].body : "", apply);
      select.addEventListener("change", apply);
      body.appendChild(field(text.timer, select));
      body.appendChild(field(text.timerValue, valueInput, text.timerHelp));
    }
  }

  // -- forms ----------------------------------------------------------------------------------

  var formText = byId("form-text");

  function formNames() {
    return Object.keys(state.files).filter(function (n) { return /\.json$/i.test(n); }).sort();
  }

  function storeForm() {
    if (state.form !== null && !reviewing) { state.files[state.form] = formText.value; }
  }

  function checkJson() {
    var status = byId("form-json-status");
    try {
      var value = JSON.parse(formText.value);
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        throw new Error("a form is a JSON object");
      }
      formText.removeAttribute("aria-invalid");
      status.textContent = text.jsonOk;
      status.className = "help";
      return true;
    } catch (err) {
      formText.setAttribute("aria-invalid", "true");
      status.textContent = fmt(text.jsonError, { reason: err.message });
      status.className = "help field-error";
      return false;
    }
  }

  function renderFormList() {
    var list = byId("form-list");
    list.textContent = "";
    formNames().forEach(function (name) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.dataset.form = name;
      button.textContent = name;
      button.setAttribute("aria-current", name === state.form ? "true" : "false");
      button.addEventListener("click", function () { selectForm(name); });
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  function selectForm(name) {
    storeForm();
    state.form = name;
    formText.disabled = false;
    formText.readOnly = reviewing;
    formText.value = state.files[name];
    byId("form-name").textContent = name;
    byId("form-preview-area").textContent = "";
    checkJson();
    renderFormList();
  }

  formText.addEventListener("input", function () {
    state.dirty = true;
    checkJson();
  });

  var addForm = byId("add-form");
  if (addForm) {
    addForm.addEventListener("click", function () {
      var input = byId("new-form-name");
      var help = byId("new-form-help");
      var name = input.value.trim();
      if (!FORM_NAME.test(name)) { help.textContent = text.newFormInvalid; input.setAttribute("aria-invalid", "true"); return; }
      if (state.files[name] !== undefined) { help.textContent = text.newFormExists; input.setAttribute("aria-invalid", "true"); return; }
      help.textContent = "";
      input.removeAttribute("aria-invalid");
      input.value = "";
      storeForm();
      state.files[name] = NEW_FORM;
      state.dirty = true;
      selectForm(name);
      renderProperties();
    });
  }

  // -- findings -------------------------------------------------------------------------------

  function clearFindings() { byId("findings").textContent = ""; }

  function showElement(id) {
    var element = svc("elementRegistry").get(id);
    if (!element) { return; }
    svc("selection").select(element);
    var canvas = svc("canvas");
    if (typeof canvas.scrollToElement === "function") { canvas.scrollToElement(element); }
  }

  function showFindings(findings) {
    var list = byId("findings");
    list.textContent = "";
    (findings || []).forEach(function (f) {
      var severity = f.severity === "warning" ? "warning" : "error";
      var li = document.createElement("li");
      li.dataset.severity = severity;
      var badge = document.createElement("span");
      badge.className = "severity-" + severity;
      badge.textContent = severity === "warning" ? text.warning : text.error;
      li.appendChild(badge);
      var where = [f.file, f.line ? fmt(text.line, { n: f.line }) : null, f.element].filter(Boolean).join(" · ");
      li.appendChild(document.createTextNode(" " + (where ? where + ": " : "") + f.message + " "));
      if (f.element && f.file === state.diagram && svc("elementRegistry").get(f.element)) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = text.showElement;
        button.addEventListener("click", function () { showElement(f.element); });
        li.appendChild(button);
      }
      list.appendChild(li);
    });
  }

  // -- actions --------------------------------------------------------------------------------

  var buttons = ["save-draft", "validate", "deploy", "deploy-force"].map(byId).filter(Boolean);

  function run(task) {
    if (state.busy) { return; }
    state.busy = true;
    buttons.forEach(function (b) { b.disabled = true; });
    Promise.resolve().then(task).catch(function (err) {
      setStatus(err && err.userMessage ? err.userMessage : fmt(text.failed, { reason: (err && err.message) || err }),
        "bad");
    }).then(function () {
      state.busy = false;
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  function saveDraft() {
    return collect().then(function (files) {
      if (state.draft) {
        return call("PUT", data.urls.drafts + "/" + state.draft.id, { files: files, revision: state.draft.revision });
      }
      return call("POST", data.urls.drafts, { key: data.key, base_version: state.version, files: files });
    }).then(function (result) {
      if (result.status !== 200 && result.status !== 201) {
        throw failure(fmt(text.saveFailed, { reason: reason(result) }));
      }
      state.draft = { id: result.body.id, revision: result.body.revision };
      state.dirty = false;
      history.replaceState(null, "", data.urls.edit + "?draft=" + state.draft.id);
      return result.body;
    });
  }

  function validate() {
    setStatus(text.validating, "busy");
    clearFindings();
    return collect().then(function (files) {
      return call("POST", data.urls.validate, { files: files });
    }).then(function (result) {
      if (result.status !== 200) { throw failure(fmt(text.failed, { reason: reason(result) })); }
      var report = result.body;
      showFindings(report.findings);
      var errors = report.findings.filter(function (f) { return f.severity !== "warning"; }).length;
      var warnings = report.findings.length - errors;
      if (!report.valid) {
        setStatus(fmt(text.invalid, { n: errors }), "bad");
      } else if (warnings) {
        setStatus(fmt(text.validWithWarnings, { n: warnings }), "ok");
      } else {
        setStatus(text.valid, "ok");
      }
    });
  }

  function deploy(force) {
    setStatus(text.deploying, "busy");
    clearFindings();
    clearResult();
    var forceButton = byId("deploy-force");
    if (forceButton) { forceButton.hidden = true; }
    return saveDraft().then(function (draft) {
      return call("POST", data.urls.drafts + "/" + draft.id + "/deploy", { force: !!force });
    }).then(function (result) {
      var body = result.body || {};
      if ((result.status === 201 || result.status === 200) && body.version) {
        var v = body.version.version;
        state.draft = null;  // the draft became version v (the server removed it)
        state.version = v;
        state.dirty = false;
        history.replaceState(null, "", data.urls.edit + "?version=" + v);
        setStatus(fmt(result.status === 201 ? text.deployed : text.unchanged, { v: v }), "ok");
        showFindings(body.version.warnings || []);
        showResultLinks(v);
      } else if (result.status === 202 && body.pending) {
        setStatus(fmt(text.requested, { id: body.pending.id }), "ok");
      } else if (result.status === 409 && body.error === "stale_base") {
        setStatus(text.stale, "bad");
        if (forceButton) { forceButton.hidden = false; }
      } else {
        if (Array.isArray(body.errors)) { showFindings(body.errors); }
        setStatus(fmt(text.deployFailed, { reason: reason(result) }), "bad");
      }
    });
  }

  function on(id, handler) {
    var el = byId(id);
    if (el) { el.addEventListener("click", function () { run(handler); }); }
  }

  on("save-draft", function () {
    setStatus(text.saving, "busy");
    return saveDraft().then(function (draft) { setStatus(fmt(text.saved, { n: draft.revision }), "ok"); });
  });
  on("validate", validate);
  on("deploy", function () { return deploy(false); });
  on("deploy-force", function () { return deploy(true); });

  document.querySelectorAll("[data-decide]").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = button.dataset.id;
      var action = button.dataset.decide;
      var comment = byId("comment-" + id);
      run(function () {
        return call("POST", data.urls.pending + "/" + id + "/" + action,
          { comment: (comment && comment.value.trim()) || null }).then(function (result) {
          if (result.status !== 200) { throw failure(fmt(text.failed, { reason: reason(result) })); }
          if (action === "approve") {
            setStatus(fmt(text.approved, { v: result.body.version }), "ok");
            showResultLinks(result.body.version);
          } else {
            setStatus(text.rejected, "ok");
          }
          var row = document.querySelector('tr[data-pending="' + id + '"]');
          if (row) { row.remove(); }
        });
      });
    });
  });

  var diagramSelect = byId("diagram-file");
  if (diagramSelect) {
    diagramSelect.addEventListener("change", function () {
      var next = diagramSelect.value;
      storeDiagram().then(function () {
        state.diagram = next;
        return importDiagram(next);
      });
    });
  }

  var eventBus = svc("eventBus");
  eventBus.on("selection.changed", renderProperties);
  eventBus.on("elements.changed", function () {
    // Re-read the selected element unless someone is typing in the panel.
    if (!byId("properties").contains(document.activeElement)) { renderProperties(); }
  });
  eventBus.on("commandStack.changed", function (event) {
    if (event && event.trigger === "clear") { return; }
    state.dirty = true;
    state.edited[state.diagram] = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (state.dirty && !reviewing) {
      event.preventDefault();
      event.returnValue = text.unsaved;
    }
  });

  renderFormList();
  if (formNames().length) { selectForm(formNames()[0]); }
  if (state.diagram) { importDiagram(state.diagram); }
})();
