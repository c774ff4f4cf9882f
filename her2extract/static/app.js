// her2extract page: upload reports, show what they say and what it means.
// No inline script, no external resource; report text is only ever set with textContent.
"use strict";

const LABELS = {
  her2_ihc_score: "HER2 IHC score", her2_ihc_percent: "HER2 IHC % of cells", her2_ihc_clone: "HER2 antibody",
  her2_ish_method: "HER2 gene test", her2_ish_ratio: "HER2/CEP17 ratio", her2_ish_her2_copies: "HER2 copies per cell",
  her2_ish_cep17_copies: "CEP17 copies per cell", her2_ish_cells: "Cells counted", her2_ish_result: "Gene test result",
  her2_reported: "HER2 as reported", er_reported: "ER as reported", pr_reported: "PR as reported",
  er_percent: "ER % of cells", er_intensity: "ER intensity", er_allred: "ER Allred score",
  pr_percent: "PR % of cells", pr_intensity: "PR intensity", pr_allred: "PR Allred score",
  ki67_percent: "Ki-67", site: "Organ", procedure: "Procedure", her2_status: "HER2 status",
  er_status: "ER status", pr_status: "PR status",
};

// What each warning code means, in words; the detail after the code follows.
const WARNINGS = {
  "conflict": "Two parts of the report (or two readings of a scanned page) disagree, so this value was left empty.",
  "form-unticked": "The report prints the choices (for example Positive / Negative) but none is marked, so no value was read.",
  "form-ambiguous": "More than one of the printed choices is marked, so no value was read.",
  "layout-shift": "In a table of the report the values do not line up with their labels, so they were not read.",
  "site-uncertain": "The report points to more than one organ; the one named was used.",
  "history-only": "This value comes from an earlier test the report quotes, not from this report's own testing.",
  "ultralow-undetermined": "HER2 is 0, but the report does not say whether any faint staining was seen (HER2-null or HER2-ultralow).",
  "er-low": "ER is low positive (1-10 %). Ask how much hormone therapy is expected to help.",
  "cut-off": "The report uses an older cut-off than today's guideline.",
  "discordant": "The report's results for this test contradict each other, so its overall result was left empty.",
  "needs-ish": "HER2 2+ needs a gene test (ISH/FISH) to decide; none was found in this report.",
  "needs-dual-probe": "The single-probe gene test is in the borderline range; a dual-probe test decides.",
  "pending-answered": "A result said to be pending was answered later in the report.",
  "smaller-tumour": "A result from a smaller tumour in the same breast was not used.",
  "other-site": "This is not a breast or stomach report; the breast guidelines may not apply.",
  "gastric-scoring": "Stomach cancer HER2 is scored differently from breast cancer.",
  "gastric-copies": "Stomach cancer HER2 copy numbers are read differently from breast cancer.",
  "low-uncertain": "The percent is near a cut-off.",
  "implausible": "A value was outside what is possible and was not used.",
  "no-text-layer": "A page had no readable text.",
  "ocr-reread": "Some scanned pages were read again from their picture (OCR), which places labels and values as printed.",
  "time-out": "Part of the file took too long to read.",
};

const state = { reports: [], naaccrXml: "" };
const byId = (id) => document.getElementById(id);
const token = new URLSearchParams(window.location.search).get("token");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setStatus(text, isError) {
  const status = byId("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

async function upload(fileList) {
  const files = Array.from(fileList || []);
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  setStatus(`Reading ${files.length} file${files.length > 1 ? "s" : ""}... scanned pages can take a few seconds each.`);
  let response;
  try {
    response = await fetch("/api/extract", { method: "POST", body: form, headers: token ? { "X-Token": token } : {} });
  } catch (err) {
    setStatus("The page could not reach its local server. Is `her2extract serve` still running?", true);
    return;
  }
  let body = {};
  try { body = await response.json(); } catch (err) { body = {}; }
  if (!response.ok) {
    setStatus(`Could not read: ${body.detail || response.statusText}`, true);
    if (body.reports) render(body.reports);
    return;
  }
  render(body.reports, body.naaccr_xml);
  const failed = body.reports.filter((r) => r.status !== "ok").length;
  setStatus(failed ? `Done. ${failed} file(s) could not be read; see below.` : "Done.");
}

function render(reports, naaccrXml) {
  state.reports = reports;
  state.naaccrXml = naaccrXml || "";
  const results = byId("results");
  results.replaceChildren(...reports.map(card));
  byId("downloads").hidden = !reports.length;
}

function value(record, name) {
  const v = record[name];
  return v === undefined || v === null || v === "" || v === "unknown" ? "" : String(v);
}

function percent(v) { return v ? `${v} %` : ""; }

function her2Badge(category) {
  return { low: "HER2-low", ultralow: "HER2-ultralow", "null": "HER2-null", positive: "HER2-positive",
           equivocal: "borderline (2+)" }[category] || "";
}

function markerBox(title, field, main, details, badge, unclear) {
  const shown = main || (unclear ? "unclear" : "not stated");
  return el("div", { class: unclear && !main ? "marker unclear" : "marker", "data-marker": title },
    el("h3", {}, title),
    el("div", { class: "value", "data-field": field }, shown, badge ? el("span", { class: "badge" }, badge) : null),
    ...details.filter(Boolean).map((d) => el("div", { class: "detail" }, d)),
    unclear && !main ? el("div", { class: "detail" }, "see \u201cWhat is unclear\u201d below") : null);
}

function unclearMarkers(r) {
  return new Set((r.unclear || []).map((d) => d.marker));
}

function summary(r) {
  const ish = [value(r, "her2_ish_method"), value(r, "her2_ish_result"),
               value(r, "her2_ish_ratio") && `ratio ${value(r, "her2_ish_ratio")}`].filter(Boolean).join(", ");
  const erStatus = value(r, "er_status");
  const unclear = unclearMarkers(r);
  return el("div", { class: "summary" },
    markerBox("HER2", "her2_status", value(r, "her2_status"), [
      value(r, "her2_ihc_score") && `IHC ${value(r, "her2_ihc_score")}`,
      ish && `gene test: ${ish}`,
    ], her2Badge(value(r, "her2_category")), unclear.has("her2")),
    markerBox("ER (estrogen receptor)", "er_status", erStatus, [
      percent(value(r, "er_percent")) && `${percent(value(r, "er_percent"))} of cells`,
      value(r, "er_intensity") && `${value(r, "er_intensity")} staining`,
      value(r, "er_allred") && `Allred ${value(r, "er_allred")}`,
    ], erStatus === "low positive" ? "ER-low" : "", unclear.has("er")),
    markerBox("PR (progesterone receptor)", "pr_status", value(r, "pr_status"), [
      percent(value(r, "pr_percent")) && `${percent(value(r, "pr_percent"))} of cells`,
      value(r, "pr_intensity") && `${value(r, "pr_intensity")} staining`,
      value(r, "pr_allred") && `Allred ${value(r, "pr_allred")}`,
    ], "", unclear.has("pr")),
    markerBox("Ki-67", "ki67_percent", percent(value(r, "ki67_percent")), [
      value(r, "subtype") && `Overall: ${value(r, "subtype")}`,
    ]));
}

function marked(sentence) {
  const t = sentence.text;
  return el("span", { class: "sentence" }, t.slice(0, sentence.mark_start),
    el("mark", {}, t.slice(sentence.mark_start, sentence.mark_end)), t.slice(sentence.mark_end));
}

function highlighted(context, text) {
  const line = el("span", { class: "sentence" });
  const at = text ? context.indexOf(text) : -1;
  if (at < 0) {
    line.append(context, " ", el("mark", {}, text));
    return line;
  }
  line.append(context.slice(0, at), el("mark", {}, text), context.slice(at + text.length));
  return line;
}

// A value read from a picture of the page (a scan or a photo): OCR can misread a digit.
const OCR_NOTE = "Read from a picture of the page by text recognition, which can misread a character: " +
  "check this value against your report.";
const OCR_NOTE_PICTURE = "Read from the picture above by text recognition, which can misread a character: " +
  "check each digit against it, or against your report.";

function evidenceList(record, sentences) {
  const anyPicture = record.text_source === "ocr" || record.text_source === "mixed";
  const items = Object.values(record.evidence || {}).map((ev) => {
    const sentence = sentences[ev.field];
    const fromPicture = sentence ? Boolean(sentence.ocr) : anyPicture;
    const picture = sentence && typeof sentence.picture === "string" &&
      sentence.picture.startsWith("data:image/png;base64,") ? sentence.picture : "";
    return el("li", { "data-evidence": ev.field },
      el("div", {}, el("strong", {}, `${LABELS[ev.field] || ev.field}: `), String(record[ev.field] ?? ev.text)),
      el("div", { class: "where" }, `page ${ev.page}${ev.section ? `, ${ev.section} section` : ""}`),
      sentence ? marked(sentence) : highlighted(ev.context || ev.text, ev.text),
      picture ? el("img", { class: "picture", src: picture,
                            alt: `The part of page ${ev.page} this value was read from, as pictured` }) : null,
      fromPicture ? el("div", { class: "ocr-note" }, picture ? OCR_NOTE_PICTURE : OCR_NOTE) : null);
  });
  return items.length ? el("ul", { class: "evidence" }, ...items) : el("p", {}, "No result was found in this report.");
}

const MARKER_NAMES = { her2: "HER2", er: "ER", pr: "PR", ki67: "Ki-67", site: "Organ" };

function unclearList(record) {
  const items = (record.unclear || []).map((d) => el("li", { "data-unclear": d.marker },
    el("div", {}, el("strong", {}, `${MARKER_NAMES[d.marker] || d.marker}: `), d.text),
    ...(d.evidence || []).map((ev) => el("div", { class: "side" },
      el("span", { class: "where" }, `page ${ev.page}: `), el("span", { class: "sentence" }, ev.context || ev.text)))));
  return items.length ? el("ul", { class: "unclear" }, ...items) : null;
}

function warningList(record) {
  const raw = record.warnings || [];
  const warnings = (Array.isArray(raw) ? raw : String(raw).split(" | ")).map((w) => w.trim()).filter(Boolean);
  if (!warnings.length) return null;
  return el("ul", { class: "warnings" }, ...warnings.map((w) => {
    const code = w.split(":")[0];
    const detail = w.slice(code.length + 1).trim();
    return el("li", {}, WARNINGS[code] || "Note:", detail ? ` (${detail})` : "");
  }));
}

function card(report) {
  const r = report.record || {};
  const box = el("article", { class: "report-card", "data-status": report.status },
    el("h2", {}, report.filename),
    el("p", { class: "meta" }, report.status === "ok"
      ? `${r.pages} page(s), text from ${r.text_source}${r.site ? `, ${r.site}` : ""}` : "could not be read"));
  if (report.status !== "ok") {
    box.append(el("p", { class: "failed" }, report.error));
    return box;
  }
  box.append(summary(r));
  const unclear = unclearList(r);
  if (unclear) {
    box.append(el("h3", { class: "section-title" }, "What is unclear in this report"),
      el("p", { class: "meta" }, "These values were left empty rather than guessed; each side of the question is shown as the report writes it."),
      unclear);
  }
  const explanation = r.explanation || {};
  if ((explanation.results || []).length) {
    box.append(el("h3", { class: "section-title" }, "What it means"),
      el("div", { class: "explain" }, ...explanation.results.map((e) => el("p", {}, el("strong", {}, `${e.topic}: `), e.text))));
  }
  if ((explanation.questions || []).length) {
    box.append(el("h3", { class: "section-title" }, "Questions you may want to ask your care team"),
      el("ul", { class: "questions" }, ...explanation.questions.map((q) => el("li", {}, q))));
  }
  const warnings = warningList(r);
  if (warnings) box.append(el("h3", { class: "section-title" }, "Please note"), warnings);
  box.append(el("h3", { class: "section-title" }, "Where each value was found"), evidenceList(r, report.sentences || {}));
  box.append(el("p", { class: "disclaimer" }, explanation.disclaimer || "This is not medical advice."));
  if (explanation.guideline) box.append(el("p", { class: "meta" }, `Guidelines: ${explanation.guideline}`));
  return box;
}

function csvCell(v) {
  // a cell a spreadsheet would run as a formula (= + - @, tab, CR first) gets an apostrophe
  let s = String(v ?? "");
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function csvText(rows) {
  const columns = Object.keys(rows[0]);
  const lines = [columns.map(csvCell).join(","), ...rows.map((row) => columns.map((c) => csvCell(row[c])).join(","))];
  return lines.join("\r\n") + "\r\n";
}

function downloadCsv() {
  if (state.reports.length) download("her2extract.csv", "text/csv", csvText(state.reports.map((r) => r.row)));
}

function downloadNaaccr() {
  if (state.reports.length) download("her2extract-naaccr.csv", "text/csv", csvText(state.reports.map((r) => r.naaccr)));
}

function downloadNaaccrXml() {
  if (state.naaccrXml) download("her2extract-naaccr.xml", "application/xml", state.naaccrXml);
}

function downloadFhir() {
  const bundles = state.reports.map((r) => r.fhir);
  download("her2extract-fhir.json", "application/fhir+json", JSON.stringify(bundles.length === 1 ? bundles[0] : bundles, null, 2));
}

function downloadJson() {
  download("her2extract.json", "application/json", JSON.stringify(state.reports.map((r) => r.record), null, 2));
}

document.addEventListener("DOMContentLoaded", () => {
  const drop = byId("drop");
  const input = byId("file");
  input.addEventListener("change", () => { upload(input.files); input.value = ""; });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => upload(e.dataTransfer.files));
  byId("download-csv").addEventListener("click", downloadCsv);
  byId("download-json").addEventListener("click", downloadJson);
  byId("download-naaccr").addEventListener("click", downloadNaaccr);
  byId("download-naaccr-xml").addEventListener("click", downloadNaaccrXml);
  byId("download-fhir").addEventListener("click", downloadFhir);
});
