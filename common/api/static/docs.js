// Renders /v1/openapi.json as a list of operations with a form to send each request.
// Self-contained (no libraries, no network access besides this API), so it works offline.
"use strict";

const KEY_STORAGE = "simtel-api-key";
// Characters of a response body shown; longer bodies are cut with a marker.
const MAX_SHOWN_CHARS = 20000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function resolve(doc, schema, depth = 0) {
  // Replace local $refs by the schemas they point to, a few levels deep, for display.
  if (!schema || typeof schema !== "object" || depth > 6) return schema;
  if (Array.isArray(schema)) return schema.map((item) => resolve(doc, item, depth + 1));
  if (schema.$ref && schema.$ref.startsWith("#/components/schemas/")) {
    const name = schema.$ref.slice("#/components/schemas/".length);
    return resolve(doc, doc.components.schemas[name], depth + 1);
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = resolve(doc, v, depth + 1);
  return out;
}

function schemaText(doc, schema) {
  return JSON.stringify(resolve(doc, schema), null, 2);
}

function parameterRows(op, inputs) {
  const rows = [];
  for (const p of op.parameters || []) {
    const input = el("input", { type: "text", placeholder: p.example !== undefined ? String(p.example) : "" });
    if (p.schema && p.schema.default !== undefined) input.placeholder = "default " + p.schema.default;
    inputs.push([p, input]);
    const kind = p.schema.enum ? p.schema.enum.join(" | ") : (p.schema.format || p.schema.type);
    rows.push(el("tr", {},
      el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "required" }, " *") : null),
      el("td", {}, p.in),
      el("td", {}, String(kind)),
      el("td", {}, p.description || ""),
      el("td", {}, input)));
  }
  if (!rows.length) return null;
  return el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"),
    el("th", {}, "description"), el("th", {}, "value")), ...rows);
}

function buildUrl(path, inputs) {
  let url = path;
  const query = new URLSearchParams();
  for (const [p, input] of inputs) {
    const value = input.value.trim();
    if (!value) continue;
    if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(value));
    else query.append(p.name, value);
  }
  const text = query.toString();
  return text ? url + "?" + text : url;
}

async function send(method, path, inputs, bodyInput, contentType, output, status) {
  const headers = {};
  const key = document.getElementById("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  const init = { method, headers };
  if (bodyInput && bodyInput.value.trim()) {
    init.body = bodyInput.value;
    headers["Content-Type"] = contentType;
  }
  status.textContent = "...";
  try {
    const response = await fetch(buildUrl(path, inputs), init);
    status.textContent = response.status + " " + response.statusText;
    const type = response.headers.get("Content-Type") || "";
    let text;
    if (type.includes("json")) text = JSON.stringify(await response.json(), null, 2);
    else if (type.startsWith("text/")) text = await response.text();
    else text = "(" + (await response.arrayBuffer()).byteLength + " bytes of " + type + ")";
    output.textContent = text.length > MAX_SHOWN_CHARS
      ? text.slice(0, MAX_SHOWN_CHARS) + "\n... (" + text.length + " characters in all)" : text;
  } catch (error) {
    status.textContent = "request failed";
    output.textContent = String(error);
  }
}

function renderOperation(doc, path, method, op) {
  const inputs = [];
  const locked = op.security && op.security.length ? el("span", { class: "lock" }, "key required") : null;
  const summary = el("summary", {},
    el("span", { class: "method " + method }, method.toUpperCase()),
    el("span", { class: "path" }, path),
    el("span", { class: "summary" }, op.summary || ""), locked);
  const body = el("div", { class: "body" });
  if (op.description) body.append(el("p", {}, op.description));
  const params = parameterRows(op, inputs);
  if (params) body.append(el("h4", {}, "Parameters"), params);

  let bodyInput = null;
  let contentType = "application/json";
  if (op.requestBody) {
    const [type, media] = Object.entries(op.requestBody.content)[0];
    contentType = type;
    body.append(el("h4", {}, "Request body (" + type + ")"), el("p", {}, op.requestBody.description || ""),
      el("pre", {}, schemaText(doc, media.schema)));
    bodyInput = el("textarea", { rows: "5", placeholder: type });
    body.append(bodyInput);
  }

  body.append(el("h4", {}, "Responses"));
  for (const [code, response] of Object.entries(op.responses)) {
    const types = Object.keys(response.content || {});
    const item = el("details", {}, el("summary", {}, code + " " + response.description +
      (types.length ? " [" + types.join(", ") + "]" : "")));
    const json = (response.content || {})["application/json"];
    if (json && json.schema) item.append(el("pre", {}, schemaText(doc, json.schema)));
    body.append(item);
  }

  const output = el("pre", {}, "");
  const status = el("span", { class: "status" }, "");
  const button = el("button", { type: "button" }, "Send");
  button.addEventListener("click", () => send(method.toUpperCase(), path, inputs, bodyInput, contentType,
    output, status));
  body.append(el("div", {}, button, status), output);
  return el("details", { class: "op" }, summary, body);
}

function render(doc) {
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  const main = document.getElementById("operations");
  const toc = document.getElementById("toc");
  main.textContent = "";
  for (const [tag, ops] of byTag) {
    const anchor = "tag-" + tag.replace(/\W+/g, "-");
    toc.append(el("a", { href: "#" + anchor }, tag));
    main.append(el("h2", { id: anchor }, tag));
    for (const [path, method, op] of ops) main.append(renderOperation(doc, path, method, op));
  }
}

function init() {
  const keyInput = document.getElementById("api-key");
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyInput.addEventListener("change", () => sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim()));
  fetch("/v1/openapi.json")
    .then((response) => {
      if (!response.ok) throw new Error("GET /v1/openapi.json returned status " + response.status);
      return response.json();
    })
    .then(render)
    .catch((error) => {
      document.getElementById("operations").textContent = "Cannot load the API document: " + error;
    });
}

init();
