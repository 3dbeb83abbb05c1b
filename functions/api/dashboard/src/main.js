// The dashboard's script, bundled by esbuild (npm run build: dist/app.js) with uPlot, the one
// library it uses, pinned in package-lock.json. Served by the api function with the page.
import uPlot from "uplot";

// Served by the API function at /dashboard. The API is this page's own base; the SSE and
// WebSocket URLs come from /dashboard/config.json unless ?sse= / ?ws= name others (the local
// stack's `make watch` SSE URL). ?transport=websocket listens over WebSocket instead of SSE.
const apiBase = location.origin + location.pathname.replace(/\/dashboard\/?$/, "");
const $ = (id) => document.getElementById(id);
const text = (v) => (v === undefined || v === null ? "" : String(v));
let token = "";
let config = null;
let refreshTimer = null;

// Sign-in: Cognito's Hosted UI, the authorization-code flow with PKCE, for the stack's public
// app client. Tokens stay in this tab's sessionStorage, never in the address bar: the code is
// taken out of it before it is exchanged. The ID token is refreshed 5 minutes before it expires.
const AUTH = "dashboard.auth";
const PKCE = "dashboard.pkce";
const redirectUri = () => location.origin + location.pathname;
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function signIn() {
  const verifier = random(32), state = random(16);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, back: location.search + location.hash }));
  const q = new URLSearchParams({
    response_type: "code", client_id: config.sign_in.client_id, redirect_uri: redirectUri(),
    scope: "openid email profile", state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(config.sign_in.authorize_url + "?" + q);
}

async function tokenRequest(fields) {
  const r = await fetch(config.sign_in.token_url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.sign_in.client_id, ...fields }),
  });
  if (!r.ok) throw new Error("sign-in refused (" + r.status + ")");
  const t = await r.json();
  const before = JSON.parse(sessionStorage.getItem(AUTH) || "{}");
  const auth = {
    id_token: t.id_token,
    refresh_token: t.refresh_token || before.refresh_token,
    expires_at: Date.now() + 1000 * (t.expires_in || 3600),
  };
  sessionStorage.setItem(AUTH, JSON.stringify(auth));
  return auth;
}

// Back from the Hosted UI with ?code=&state=.
async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  const pkce = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, "", redirectUri() + ((pkce && pkce.back) || ""));
  if (!pkce || q.get("state") !== pkce.state) throw new Error("sign-in: the answer does not match the request");
  return tokenRequest({
    grant_type: "authorization_code", code: q.get("code"), redirect_uri: redirectUri(),
    code_verifier: pkce.verifier,
  });
}

function scheduleRefresh(auth) {
  clearTimeout(refreshTimer);
  const wait = Math.max(auth.expires_at - Date.now() - 5 * 60 * 1000, 10 * 1000);
  refreshTimer = setTimeout(async () => {
    try {
      const next = await tokenRequest({ grant_type: "refresh_token", refresh_token: auth.refresh_token });
      token = next.id_token;
      scheduleRefresh(next);
    } catch (e) { report(e); }
  }, wait);
}

function signOut() {
  clearTimeout(refreshTimer);
  token = "";
  stopLive();
  sessionStorage.clear();
  const q = new URLSearchParams({ client_id: config.sign_in.client_id, logout_uri: redirectUri() });
  location.assign(config.sign_in.logout_url + "?" + q);
}

function claims(jwt) {
  try { return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); }
  catch { return {}; }
}

// ---------------------------------------------------------------- helpers
const OPERATOR_ROLES = ["org_admin", "super_admin"];
const VIEWER_WHY = "Needs the org_admin role; you are a viewer.";
const number = (n) => new Intl.NumberFormat().format(n || 0);
const percent = (r) => new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(r || 0);
const when = (seconds) => seconds
  ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(seconds * 1000) : "";
const isOperator = () => OPERATOR_ROLES.includes($("user").dataset.role);
// A super admin may read another tenant (?tenant=); everyone else reads the token's own.
let tenant = "";

function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = text(value);
  if (cls) td.className = cls;
  return td;
}

function badge(value, label) {
  const b = document.createElement("span");
  b.className = "badge " + text(value);
  b.textContent = (label ? label + " " : "") + text(value || "unknown");
  return b;
}

function withTenant(path) {
  if (!tenant) return path;
  return path + (path.includes("?") ? "&" : "?") + "tenant=" + encodeURIComponent(tenant);
}

async function api(path) {
  const r = await fetch(apiBase + withTenant(path), { headers: { authorization: "Bearer " + token } });
  if (!r.ok) throw new Error(path.split("?")[0] + " answered " + r.status);
  return r.json();
}

// A POST through the API (its role checks apply); the problem's detail when refused.
async function post(path, body) {
  const r = await fetch(apiBase + withTenant(path), {
    method: "POST",
    headers: { authorization: "Bearer " + token, "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await r.json().catch(() => ({}));
  return { ok: r.ok, why: r.ok ? "" : (answer.detail || answer.title || "refused (" + r.status + ")") };
}

// Every page of a list, up to `pages`.
async function all(path, pages) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < pages; page++) {
    const read = await api(path + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...read.items);
    cursor = read.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// Loading, empty and error states: a sentence, never raw JSON.
function state(id, message) {
  const el = $(id);
  el.textContent = message || "";
  el.hidden = !message;
}

function report(e) {
  log("error: " + e.message);
  const el = $("error");
  el.textContent = "Something could not be loaded: " + e.message + ". It is retried with the next update.";
  el.hidden = false;
}

function clearError() { $("error").hidden = true; }

function item(list, content, attrs) {
  const li = document.createElement("li");
  if (typeof content === "string") li.textContent = content; else li.append(...content);
  for (const [k, v] of Object.entries(attrs || {})) li.dataset[k] = v;
  list.appendChild(li);
  return li;
}

function linkButton(label, onClick) {
  const b = document.createElement("button");
  b.className = "link";
  b.textContent = label;
  b.onclick = onClick;
  return b;
}

// ---------------------------------------------------------------- pages
// One page at a time, named by the address's hash (#overview, #campaigns, ...): the browser's
// back button and keyboard (links, then Tab) move between them; focus goes to the page's title.
const PAGES = ["overview", "campaigns", "templates", "numbers", "alerts"];
const loaders = {};

function currentPage() {
  const name = location.hash.replace(/^#/, "").split("/")[0];
  return PAGES.includes(name) ? name : "overview";
}

function showPage(focus) {
  const name = currentPage();
  for (const section of document.querySelectorAll("main > section[data-page]")) {
    section.hidden = section.dataset.page !== name;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = $(name + "-title").textContent + " · WhatsApp campaigns";
  if (focus) $(name + "-title").focus();
  if (loaders[name]) refreshSoon(name, loaders[name], 0);
}

window.addEventListener("hashchange", () => {
  if (PAGES.includes(location.hash.slice(1))) showPage(true);
});

// Bursts of events reload each view at most every `wait` ms: a campaign's burst costs a few
// renders a second at most.
const pending = {};
function refreshSoon(what, load, wait = 300) {
  if (pending[what]) return;
  pending[what] = setTimeout(() => {
    pending[what] = null;
    load().then(clearError, report);
  }, wait);
}

// ---------------------------------------------------------------- overview
const STEPS = ["sent", "delivered", "read", "failed", "replied"];
// Each step's rate, of the step before it (failed: of the attempts).
const RATE = {
  delivered: (r) => r.delivered / r.sent,
  read: (r) => r.read / r.delivered,
  failed: (r) => r.failed / (r.sent + r.failed),
  replied: (r) => r.replied / r.delivered,
};

function change(now, before) {
  if (!before) return now ? "new in this period" : "no change";
  const d = (now - before) / before;
  return (d >= 0 ? "+" : "") + percent(d) + " against " + number(before);
}

function kpis(boxId, key, period) {
  const box = $(boxId);
  box.replaceChildren();
  for (const step of STEPS) {
    const tile = document.createElement("div");
    tile.className = "kpi";
    tile.dataset.kpi = key + "-" + step;
    const value = period.current[step];
    tile.dataset.value = String(value);
    const b = document.createElement("b");
    b.textContent = number(value);
    const lines = [b, document.createTextNode(step)];
    const delta = document.createElement("small");
    delta.textContent = change(value, period.previous[step]);
    lines.push(delta);
    if (RATE[step]) {
      const rate = document.createElement("small");
      const now = RATE[step](period.current), before = RATE[step](period.previous);
      rate.textContent = (isFinite(now) ? percent(now) : "–") + " rate" +
        (isFinite(before) ? " (was " + percent(before) + ")" : "");
      lines.push(rate);
    }
    tile.append(...lines);
    box.appendChild(tile);
  }
}

async function loadOverview() {
  const [overview, alerts, numbers] = await Promise.all([api("/overview"), api("/alerts"), api("/numbers")]);
  state("overview-state", "");
  kpis("kpis-24h", "24h", overview.last_24h);
  kpis("kpis-7d", "7d", overview.last_7d);
  renderAlertList($("overview-alerts"), alerts.items.slice(0, 8));
  $("overview-alerts-empty").hidden = alerts.items.length > 0;
  const byStatus = overview.campaigns_by_status;
  $("overview-campaigns").textContent = number(byStatus.ACTIVE) + " active, " + number(byStatus.PAUSED) +
    " paused, " + number(byStatus.COMPLETED) + " completed";
  const list = $("overview-campaign-list");
  list.replaceChildren();
  for (const c of campaigns.filter((c) => c.status === "PAUSED").concat(campaigns.filter((c) => c.status === "ACTIVE")).slice(0, 10)) {
    item(list, [badge(c.status), " ", linkButton(c.name || c.campaign_id, () => openCampaign(c.campaign_id))]);
  }
  renderNumberBadges(numbers.items);
}

function renderNumberBadges(items) {
  const list = $("overview-numbers");
  list.replaceChildren();
  for (const n of items) {
    item(list, [
      document.createTextNode((n.display_phone_number || n.phone_number_id) + " "),
      badge(n.quality, "quality"), " ", badge(n.messaging_limit, "limit"),
      ...(n.flagged ? [" ", badge("FLAGGED")] : []),
    ], { number: n.phone_number_id });
  }
  $("overview-numbers-empty").hidden = items.length > 0;
}

// Open alerts, each with an acknowledge button (an operator's; a viewer's is disabled, and says why).
function renderAlertList(list, items) {
  list.replaceChildren();
  for (const a of items) {
    const li = item(list, [badge(a.severity), " " + a.title + " · " + when(a.event_time) + " "], { alert: a.alert_id });
    li.appendChild(acknowledgeButton(a));
  }
}

function acknowledgeButton(a) {
  const b = document.createElement("button");
  b.textContent = "Acknowledge";
  b.setAttribute("aria-label", "Acknowledge: " + a.title);
  b.dataset.acknowledge = a.alert_id;
  if (!isOperator()) { b.disabled = true; b.title = VIEWER_WHY; }
  b.onclick = async () => {
    b.disabled = true;
    const r = await post("/alerts/" + encodeURIComponent(a.alert_id) + "/acknowledge");
    if (!r.ok) { b.disabled = false; b.title = r.why; report(new Error(r.why)); }
    refreshAll();
  };
  return b;
}

// ---------------------------------------------------------------- campaigns
// The campaigns read last; the search, status filter and sort apply to them without a request.
let campaigns = [];

function shownCampaigns() {
  const search = $("campaign-search").value.trim().toLowerCase();
  const status = $("campaign-status").value;
  const by = {
    name: (a, b) => (a.name || a.campaign_id).localeCompare(b.name || b.campaign_id),
    status: (a, b) => a.status.localeCompare(b.status),
    registered: (a, b) => (b.registered || 0) - (a.registered || 0),
    failed: (a, b) => (b.reached_failed || 0) - (a.reached_failed || 0),
  }[$("campaign-sort").value];
  return campaigns
    .filter((c) => !status || c.status === status)
    .filter((c) => !search || (c.name || "").toLowerCase().includes(search) || c.campaign_id.toLowerCase().includes(search))
    .sort(by);
}

// Every campaign of the tenant, a page of 500 at a time, then one render.
async function loadCampaigns() {
  const items = await all("/campaigns?limit=500", 50);
  if (!performance.getEntriesByName("campaigns-fetched").length) performance.mark("campaigns-fetched");
  campaigns = items;
  renderCampaigns();
}

function funnelBar(c) {
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  const total = Math.max(Number(c.registered || 0), 1);
  const parts = [];
  for (const k of ["sent", "delivered", "read", "replied"]) {
    const span = document.createElement("span");
    span.className = k;
    const value = Number(c["reached_" + k] || 0);
    span.style.width = (100 * value / total).toFixed(1) + "%";
    parts.push(number(value) + " " + k);
    bar.appendChild(span);
  }
  bar.setAttribute("aria-label", number(c.registered) + " registered, " + parts.join(", "));
  return bar;
}

function renderCampaigns() {
  const shown = shownCampaigns();
  $("campaign-count").textContent = number(shown.length) + " of " + number(campaigns.length);
  state("campaigns-state", campaigns.length ? "" : "No campaigns yet: create one with POST /campaigns.");
  const operator = isOperator();
  $("row-actions-why").textContent = operator ? "" : "Pause and resume: " + VIEWER_WHY;
  const body = $("campaigns");
  body.replaceChildren();
  for (const c of shown) {
    const row = body.insertRow();
    row.id = "campaign-" + c.campaign_id;
    row.className = "selectable";
    row.dataset.status = c.status;
    row.insertCell().appendChild(linkButton(c.name || c.campaign_id, () => openCampaign(c.campaign_id)));
    row.insertCell().appendChild(badge(c.status));
    row.insertCell().appendChild(funnelBar(c));
    cell(row, number(c.registered), "registered");
    for (const k of ["sent", "delivered", "read", "failed", "replied"]) cell(row, c["reached_" + k] || 0, k);
    const action = c.status === "PAUSED" ? "resume" : "pause";
    const button = document.createElement("button");
    button.textContent = action === "pause" ? "Pause" : "Resume";
    button.setAttribute("aria-label", button.textContent + " " + (c.name || c.campaign_id));
    button.dataset.action = action;
    button.disabled = !operator || c.status === "COMPLETED";
    if (!operator) { button.title = VIEWER_WHY; button.setAttribute("aria-describedby", "row-actions-why"); }
    button.onclick = () => act(c.campaign_id, action).catch(report);
    row.insertCell().appendChild(button);
  }
  // The first render's time, for the browser test's figure (performance.getEntriesByName).
  if (!performance.getEntriesByName("campaigns-rendered").length) performance.mark("campaigns-rendered");
}

// ---------------------------------------------------------------- campaign detail
// The funnel, statuses per 5 minutes, failures with Meta's meaning and what to do, the buttons
// recipients pressed, the holds with their cause, pause/resume for operators (a viewer sees
// them disabled, with the reason), and the campaign's own live updates.
let selected = null;
let chart = null;

function openCampaign(id) {
  if (currentPage() !== "campaigns") location.hash = "#campaigns";
  showCampaign(id).then(() => $("detail-title").focus(), report);
}

// What a hold means, in words: its kind is the part before the colon.
function holdCause(hold) {
  const [kind, subject] = hold.split(":");
  return {
    template: "template " + subject + " is paused or disabled",
    failure_spike: "failure spike (the circuit breaker)",
    blocked: "account blocked on number " + subject,
    flagged: "number " + subject + " flagged by Meta",
    ban: "account banned (" + subject + ")",
    manual: "paused by a person",
  }[kind] || hold;
}

async function showCampaign(id) {
  if (selected !== id) {
    $("campaign-live").replaceChildren();
    $("campaign-live-empty").hidden = false;
  }
  selected = id;
  const panel = $("detail");
  panel.hidden = false;
  panel.setAttribute("aria-busy", "true");
  const path = "/campaigns/" + encodeURIComponent(id);
  const [c, timeline, failures, replies] = await Promise.all([
    api(path), api(path + "/timeline"), api(path + "/failures"), api(path + "/replies"),
  ]);
  panel.dataset.campaign = id;
  panel.dataset.status = c.status;
  $("detail-title").textContent = (c.name || c.campaign_id) + " (" + c.status + ")";

  const funnel = $("funnel");
  funnel.replaceChildren();
  for (const [label, value, rate] of [
    ["registered", c.registered, null],
    ["sent", c.reached.sent, null],
    ["delivered", c.reached.delivered, c.rates.delivery],
    ["read", c.reached.read, c.rates.read],
    ["replied", c.reached.replied, c.rates.reply],
  ]) {
    const box = document.createElement("div");
    box.dataset.step = label;
    const b = document.createElement("b");
    b.textContent = number(value);
    box.append(b, label + (rate === null ? "" : " · " + percent(rate)));
    funnel.appendChild(box);
  }

  drawTimeline(timeline);

  const rows = $("failures");
  rows.replaceChildren();
  for (const f of failures.items) {
    const row = rows.insertRow();
    row.dataset.code = f.code;
    cell(row, f.code);
    cell(row, number(f.count) + " (" + percent(f.share) + ")");
    cell(row, f.title);
    cell(row, f.class.replace("_", " "));
    cell(row, f.action);
  }
  $("failures-empty").hidden = failures.items.length > 0;

  const buttons = $("buttons");
  buttons.replaceChildren();
  for (const b of replies.buttons) item(buttons, b.payload + ": " + number(b.count));
  $("buttons-empty").hidden = replies.buttons.length > 0;

  const holds = $("holds");
  holds.replaceChildren();
  const every = [...c.pause.holds, ...(c.pause.paused_by_user ? ["manual"] : [])];
  for (const h of every) {
    item(holds, holdCause(h) + (h === "manual" && c.pause.reason ? ": " + c.pause.reason : ""), { hold: h });
  }
  $("holds-empty").hidden = every.length > 0;

  const operator = isOperator();
  for (const [button, action, usable] of [
    [$("pause"), "pause", c.status === "ACTIVE"],
    [$("resume"), "resume", c.status === "PAUSED"],
  ]) {
    button.disabled = !operator || !usable;
    button.onclick = () => act(id, action).catch(report);
  }
  if (!operator) $("actions-why").textContent = "Pausing and resuming: " + VIEWER_WHY;
  panel.removeAttribute("aria-busy");
}

async function act(id, action) {
  const r = await post("/campaigns/" + encodeURIComponent(id) + "/" + action,
    action === "pause" ? { reason: "paused from the dashboard" } : {});
  $("actions-why").textContent = r.why;
  await Promise.all([selected === id ? showCampaign(id) : null, loadCampaigns()]);
}

function drawTimeline(timeline) {
  const xs = timeline.items.map((p) => p.start);
  const data = [xs, ...STEPS.map((s) => timeline.items.map((p) => p[s]))];
  const colors = ["#9ecbff", "#4ea1ff", "#1f6feb", "#cf222e", "#1a7f37"];
  $("timeline-title").textContent = "Statuses per 5 minutes, " + when(timeline.from) + " to " + when(timeline.to);
  const box = $("timeline");
  box.dataset.points = String(xs.length);
  box.dataset.total = String(STEPS.reduce((n, s) => n + timeline.items.reduce((m, p) => m + p[s], 0), 0));
  if (chart) chart.destroy();
  chart = new uPlot({
    width: Math.max(320, box.clientWidth || 900),
    height: 220,
    series: [{}, ...STEPS.map((label, i) => ({ label, stroke: colors[i], width: 2 }))],
    axes: [{}, { values: (u, vals) => vals.map((v) => number(v)) }],
  }, data, box);
}

// The selected campaign's own updates, newest first (the last 50).
function campaignLive(m) {
  const list = $("campaign-live");
  const li = document.createElement("li");
  li.dataset.type = m.type;
  li.textContent = new Date().toLocaleTimeString() + " " + describe(m);
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
  $("campaign-live-empty").hidden = true;
}

// ---------------------------------------------------------------- templates
let templates = [];
let selectedTemplate = null;
let alertsBySubject = {};
const CRITICAL = ["PAUSED", "DISABLED", "REJECTED", "FLAGGED"];

async function loadTemplates() {
  const [items, summary, open] = await Promise.all([
    all("/templates?limit=100", 20), api("/templates/quality-summary"), api("/alerts"),
  ]);
  templates = items;
  alertsBySubject = {};
  for (const a of open.items) alertsBySubject[a.subject] = (alertsBySubject[a.subject] || 0) + 1;
  const counts = (by) => Object.entries(by || {}).map(([k, n]) => k + " " + number(n)).join(", ") || "none";
  $("summary").textContent = number(summary.total) + " templates. Quality: " + counts(summary.by_quality) +
    ". Status: " + counts(summary.by_status) + ".";
  renderTemplates();
  if (selectedTemplate) await showTemplate(selectedTemplate);
}

function renderTemplates() {
  const critical = $("template-filter").value === "critical";
  const shown = templates
    .filter((t) => !critical || CRITICAL.includes(t.status) || t.quality === "RED" || alertsBySubject["template:" + text(t.template_id)])
    .sort((a, b) => Number(CRITICAL.includes(b.status)) - Number(CRITICAL.includes(a.status)) || text(a.name).localeCompare(text(b.name)));
  state("templates-state", shown.length ? "" : (templates.length ? "No template needs attention." : "No templates yet: sync them with POST /templates/sync."));
  const body = $("templates");
  body.replaceChildren();
  for (const t of shown) {
    const id = text(t.template_id);
    const row = body.insertRow();
    row.id = "template-" + id;
    row.className = "selectable";
    row.dataset.status = t.status;
    row.insertCell().appendChild(linkButton((t.name || id) + " (" + text(t.language) + ")", () => {
      showTemplate(id).then(() => $("template-title").focus(), report);
    }));
    cell(row, t.category);
    row.insertCell().appendChild(badge(t.status));
    row.insertCell().appendChild(badge(t.quality));
    cell(row, number(alertsBySubject["template:" + id] || 0), "alerts");
    cell(row, number(campaigns.filter((c) => text(c.template_id) === id).length));
  }
}

async function showTemplate(id) {
  selectedTemplate = id;
  const t = await api("/templates/" + encodeURIComponent(id));
  const panel = $("template-detail");
  panel.hidden = false;
  panel.dataset.template = id;
  $("template-title").textContent = t.name + " (" + t.language + ", " + t.category + ")";
  $("template-badges").replaceChildren(badge(t.status, "status"), " ", badge(t.quality, "quality"),
    t.reason && t.reason !== "NONE" ? " " + t.reason : "");
  const open = t.open_alerts || [];
  const ack = $("acknowledge-template");
  ack.disabled = !isOperator() || !open.length;
  $("template-why").textContent = !isOperator() ? VIEWER_WHY : (open.length ? number(open.length) + " open" : "No open alert.");
  ack.onclick = async () => {
    const r = await post("/alerts/" + encodeURIComponent(open[0].alert_id) + "/acknowledge");
    $("template-why").textContent = r.ok ? "Acknowledged." : r.why;
    refreshAll();
  };
  const used = $("template-campaigns");
  used.replaceChildren();
  const affected = campaigns.filter((c) => text(c.template_id) === id);
  for (const c of affected) item(used, [badge(c.status), " ", linkButton(c.name || c.campaign_id, () => openCampaign(c.campaign_id))]);
  $("template-campaigns-empty").hidden = affected.length > 0;
  // The history is kept per template; the path names one of the tenant's numbers.
  const history = $("template-history");
  history.replaceChildren();
  const phone = numbers[0] && numbers[0].phone_number_id;
  const events = phone ? (await api("/numbers/" + phone + "/templates/" + encodeURIComponent(id) + "/status-history?limit=50")).items : [];
  for (const e of events) {
    item(history, [timeTag(e.time), " " + e.event.replace(/_/g, " ") + (e.reason && e.reason !== "NONE" ? ": " + e.reason : "")], { event: e.event });
  }
  $("template-history-empty").hidden = events.length > 0;
}

function timeTag(seconds) {
  const t = document.createElement("time");
  t.dateTime = new Date(seconds * 1000).toISOString();
  t.textContent = when(seconds);
  return t;
}

// ---------------------------------------------------------------- phone numbers
let numbers = [];

async function loadNumbers() {
  numbers = (await api("/numbers")).items;
  state("numbers-state", numbers.length ? "" : "No phone numbers yet: they appear with Meta's first event for them.");
  const body = $("numbers");
  body.replaceChildren();
  for (const n of numbers) {
    const row = body.insertRow();
    row.id = "number-" + n.phone_number_id;
    row.className = "selectable";
    row.dataset.quality = n.quality;
    row.insertCell().appendChild(linkButton(n.display_phone_number || n.phone_number_id, () => {
      showNumber(n).then(() => $("number-title").focus(), report);
    }));
    row.insertCell().appendChild(badge(n.quality));
    row.insertCell().appendChild(badge(n.messaging_limit));
    row.insertCell().appendChild(n.flagged ? badge("FLAGGED") : document.createTextNode("no"));
    cell(row, when(n.updated_at));
  }
  renderNumberBadges(numbers);
}

async function showNumber(n) {
  const panel = $("number-detail");
  panel.hidden = false;
  panel.dataset.number = n.phone_number_id;
  $("number-title").textContent = (n.display_phone_number || n.phone_number_id) + ": history";
  const events = (await api("/numbers/" + encodeURIComponent(n.phone_number_id) + "/history?limit=50")).items;
  const list = $("number-history");
  list.replaceChildren();
  for (const e of events) {
    const details = ["current_limit", "quality", "reason"].filter((k) => e[k]).map((k) => e[k]).join(", ");
    item(list, [timeTag(e.time || e.event_time), " " + text(e.event).replace(/_/g, " ") + (details ? ": " + details : "")]);
  }
  $("number-history-empty").hidden = events.length > 0;
}

// ---------------------------------------------------------------- alerts and audit
let alerts = [];
let audit = [];

async function loadAlerts() {
  const [open, entries] = await Promise.all([api("/alerts"), all("/audit?limit=100", 5)]);
  alerts = open.items;
  audit = entries;
  const actions = [...new Set(audit.map((a) => a.action))].sort();
  const select = $("audit-action");
  const chosen = select.value;
  select.replaceChildren(new Option("all", ""), ...actions.map((a) => new Option(a.replace(/_/g, " "), a)));
  select.value = actions.includes(chosen) ? chosen : "";
  renderAlerts();
  renderAudit();
}

function renderAlerts() {
  const severity = $("alert-severity").value;
  const search = $("alert-search").value.trim().toLowerCase();
  const shown = alerts.filter((a) => (!severity || a.severity === severity) &&
    (!search || [a.kind, a.title, a.subject].some((v) => text(v).toLowerCase().includes(search))));
  state("alerts-state", shown.length ? "" : (alerts.length ? "No open alert matches." : "No open alerts."));
  const body = $("alerts");
  body.replaceChildren();
  for (const a of shown) {
    const row = body.insertRow();
    row.dataset.alert = a.alert_id;
    row.dataset.kind = a.kind;
    cell(row, when(a.event_time));
    row.insertCell().appendChild(badge(a.severity));
    cell(row, a.kind.replace(/_/g, " "));
    cell(row, a.title);
    cell(row, a.subject);
    row.insertCell().appendChild(acknowledgeButton(a));
  }
}

function renderAudit() {
  const action = $("audit-action").value;
  const search = $("audit-search").value.trim().toLowerCase();
  const shown = audit.filter((a) => (!action || a.action === action) &&
    (!search || Object.values(a).some((v) => text(v).toLowerCase().includes(search))));
  state("audit-state", shown.length ? "" : (audit.length ? "No entry matches." : "Nothing audited yet."));
  const body = $("audit");
  body.replaceChildren();
  for (const a of shown) {
    const row = body.insertRow();
    row.dataset.action = a.action;
    cell(row, when(a.time));
    cell(row, text(a.action).replace(/_/g, " "));
    cell(row, a.actor);
    cell(row, a.campaign_id || a.subject || a.template_id || "");
    cell(row, [a.cause && holdCause(a.cause), a.reason, a.count !== undefined ? number(a.count) + " acknowledged" : ""]
      .filter(Boolean).join(" · "));
  }
}

// ---------------------------------------------------------------- live
// A live message in words (no raw JSON on the page).
function describe(m) {
  const d = m.data || {};
  const u = d.data || d;
  switch (m.type) {
    case "report_update":
      return (m.campaign_id || "") + ": " + String(u.wamid || "").slice(-10) + " " + (u.from || "") + " → " + (u.to || "") +
        (u.error ? " (" + u.error.code + " " + u.error.title + ")" : "");
    case "campaign_paused": case "campaign_resumed":
      return (m.campaign_id || "") + " " + m.type.replace("campaign_", "") + ": " + (u.cause ? holdCause(u.cause) : (u.reason || ""));
    case "template_update":
      return "template " + (u.template_id || "") + " " + (u.event || u.status || u.quality || "");
    case "alert":
      return (u.severity || "") + " " + (u.title || u.kind || "");
    default:
      return (m.type || "") + " " + (m.campaign_id || "");
  }
}

function log(line) {
  const el = $("log");
  el.textContent = new Date().toLocaleTimeString() + " " + line + "\n" + el.textContent.slice(0, 8000);
}

function setLive(state, label) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = label;
}

const CAMPAIGN_TYPES = ["report_update", "campaign_progress", "campaign_paused", "campaign_resumed"];
const TEMPLATE_TYPES = ["template_update", "alert", "account_update", "campaign_paused"];

// One live message, from either transport: the views it touches reload soon (batched).
function onMessage(m) {
  if (m.id) {
    if (seen.size > 5000) seen.clear();
    seen.add(m.id);
    if (!lastFeedId || m.id > lastFeedId) lastFeedId = m.id;
  }
  log(describe(m));
  if (CAMPAIGN_TYPES.includes(m.type)) {
    refreshSoon("campaigns", loadCampaigns);
    refreshSoon("overview", loadOverview, 2000);
    if (selected && m.campaign_id === selected) {
      campaignLive(m);
      refreshSoon("detail", () => showCampaign(selected));
    }
  }
  if (TEMPLATE_TYPES.includes(m.type)) {
    refreshSoon("templates", loadTemplates);
    refreshSoon("numbers", loadNumbers);
    refreshSoon("alerts", loadAlerts);
    refreshSoon("overview", loadOverview, 2000);
  }
}

function refreshAll() {
  for (const [name, load] of Object.entries(loaders)) refreshSoon(name, load, 0);
  if (selected) refreshSoon("detail", () => showCampaign(selected), 0);
}

// Over SSE: EventSource reconnects by itself, with Last-Event-ID, so the stream resumes where it was.
let sources = [];
function listen(sseBase) {
  sources.forEach((s) => s.close());
  sources = [];
  for (const stream of ["reports", "templates"]) {
    const url = sseBase.replace(/\/$/, "") + "/realtime/" + stream + "?token=" + encodeURIComponent(token);
    const source = new EventSource(url);
    source.onopen = () => setLive("open", "live");
    source.onerror = () => setLive(navigator.onLine ? "reconnecting" : "offline", navigator.onLine ? "reconnecting" : "offline");
    const kinds = stream === "reports"
      ? ["report_update", "campaign_paused", "campaign_resumed", "campaign_progress", "test_event"]
      : ["template_update", "alert", "account_update", "test_event"];
    for (const kind of kinds) {
      source.addEventListener(kind, (e) => {
        let message = {};
        try { message = JSON.parse(e.data); } catch { /* described by its type alone */ }
        onMessage({ ...message, type: message.type || kind });
      });
    }
    sources.push(source);
  }
}

// Over WebSocket: the default topics (reports, templates, alerts). A dropped socket reconnects
// with exponential backoff and jitter (1 s doubling to 30 s, each wait 50-100 % of it), at once
// when the browser comes back online, and on reconnecting reads what it missed from GET /feed
// since the last feed id it had: nothing is lost. The token goes as the `bearer` subprotocol on
// AWS (out of access logs), as ?token= on the local emulator (config.websocket_token_in).
let lastFeedId = null;
let socketAttempts = 0;
let socket = null;
let reconnectTimer = null;

// The smallest feed id at `ms` (feed ids are UUIDv7: time first).
function feedIdAt(ms) {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-7000-8000-000000000000";
}

// GET /feed answers with ids 3 s old at least (they settle: shared/docs/processing.md), so a
// second read 3.5 s later takes what was written just before the socket came back. Messages
// both pushed and read are shown once (by id).
const seen = new Set();
async function catchUp(from) {
  let after = from;
  for (let page = 0; page < 50; page++) {
    const read = await api("/feed?after=" + encodeURIComponent(after));
    read.items.filter((m) => !m.id || !seen.has(m.id)).forEach(onMessage);
    after = read.last;
    if (!read.more) break;
  }
  if (!lastFeedId || after > lastFeedId) lastFeedId = after;
  return after;
}

function listenWebSocket(wsBase) {
  clearTimeout(reconnectTimer);
  socket = config.websocket_token_in === "query"
    ? new WebSocket(wsBase + "?token=" + encodeURIComponent(token))
    : new WebSocket(wsBase, ["bearer", token]);
  socket.onopen = () => {
    socketAttempts = 0;
    setLive("open", "live (websocket)");
    catchUp(lastFeedId)
      .then((last) => new Promise((settled) => setTimeout(() => settled(catchUp(last)), 3500)))
      .then(clearError, report);
  };
  socket.onclose = () => {
    if (!token) return;
    const delay = Math.min(30000, 1000 * 2 ** socketAttempts++) * (0.5 + Math.random() / 2);
    setLive(navigator.onLine ? "reconnecting" : "offline", navigator.onLine ? "reconnecting" : "offline");
    reconnectTimer = setTimeout(() => listenWebSocket(wsBase), delay);
  };
  socket.onmessage = (e) => onMessage(JSON.parse(e.data));
  window.dashboardSocket = socket; // the browser test drops it to check the resume
  window.ononline = () => {
    if (socket.readyState === WebSocket.CLOSED) { socketAttempts = 0; listenWebSocket(wsBase); }
  };
}

function stopLive() {
  sources.forEach((s) => s.close());
  clearTimeout(reconnectTimer);
  if (socket) socket.close();
}

// ---------------------------------------------------------------- start
Object.assign(loaders, {
  overview: loadOverview, campaigns: loadCampaigns, templates: loadTemplates, numbers: loadNumbers, alerts: loadAlerts,
});

async function start() {
  const params = new URLSearchParams(location.search);
  $("nav").hidden = false;
  // Campaigns and numbers first: the other pages name them.
  await Promise.all([loadCampaigns(), loadNumbers()]).catch(report);
  showPage(false);
  for (const name of PAGES) if (name !== currentPage()) refreshSoon(name, loaders[name], 0);
  if (params.get("transport") === "websocket") {
    lastFeedId = feedIdAt(Date.now() - 3000);
    listenWebSocket(params.get("ws") || config.websocket_url);
  }
  else listen(params.get("sse") || config.sse_url);
}

for (const [id, render] of [
  ["campaign-search", renderCampaigns], ["campaign-status", renderCampaigns], ["campaign-sort", renderCampaigns],
  ["template-filter", renderTemplates], ["alert-severity", renderAlerts], ["alert-search", renderAlerts],
  ["audit-action", renderAudit], ["audit-search", renderAudit],
]) {
  $(id).addEventListener("input", render);
}

$("tenant-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!$("tenant").checkValidity()) return;
  tenant = $("tenant").value.trim();
  selected = null;
  selectedTemplate = null;
  for (const id of ["detail", "template-detail", "number-detail"]) $(id).hidden = true;
  refreshAll();
});

async function boot() {
  config = await fetch(apiBase + "/dashboard/config.json").then((r) => r.json());
  if (!config.sign_in) { $("user").textContent = "sign-in is not configured for this stack"; return; }
  $("sign-in").onclick = () => signIn().catch(report);
  $("sign-out").onclick = signOut;
  let auth = JSON.parse(sessionStorage.getItem(AUTH) || "null");
  try {
    if (new URLSearchParams(location.search).has("code")) auth = await completeSignIn();
    else if (auth && auth.expires_at < Date.now() + 60 * 1000 && auth.refresh_token) {
      auth = await tokenRequest({ grant_type: "refresh_token", refresh_token: auth.refresh_token });
    }
  } catch (e) { report(e); auth = null; }
  if (!auth || auth.expires_at < Date.now()) {
    $("sign-in").hidden = false;
    return;
  }
  token = auth.id_token;
  const who = claims(token);
  const role = who["custom:role"] || "";
  $("user").textContent = (who.email || "signed in") + " (" + (role || "?") + ", " + (who["custom:org_id"] || "?") + ")";
  $("user").dataset.role = role;
  if (role === "super_admin") {
    $("tenant-form").hidden = false;
    $("tenant").value = who["custom:org_id"] || "";
  }
  $("sign-out").hidden = false;
  scheduleRefresh(auth);
  start();
}

boot().catch(report);
