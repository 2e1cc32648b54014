// The control plane's status page: reads /api/status and /api/history every few seconds and draws
// the routing table, a score chart per provider (inline SVG) and the agents. No libraries.
"use strict";
(function () {
  const refreshMs = 3000;
  let paused = false;
  const $ = (id) => document.getElementById(id);

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function ago(iso, now) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function renderProviders(status) {
    const body = $("routing").tBodies[0];
    body.replaceChildren();
    for (const p of status.providers) {
      const tr = document.createElement("tr");
      tr.dataset.provider = p.name;
      if (p.position === null) tr.className = "out";
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = p.position === null ? "out" : String(p.position);
      tr.appendChild(th);
      cell(tr, p.name);
      cell(tr, p.score === undefined ? "–" : String(p.score), "num score");
      cell(tr, p.state, "state-" + p.state.replace(/\s+/g, "-"));
      cell(tr, p.row === "missing" ? "no row" : p.isActive ? "true" : "false");
      cell(tr, p.responseMs === undefined ? "–" : p.responseMs + " ms", "num");
      cell(tr, p.reason || "");
      body.appendChild(tr);
    }
    const err = $("routing-error");
    err.hidden = !status.routingError;
    err.textContent = status.routingError ? "The routing table cannot be read: " + status.routingError : "";
  }

  function renderAgents(status, now) {
    const body = $("agents").tBodies[0];
    body.replaceChildren();
    for (const a of status.agents) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = a.name;
      tr.appendChild(th);
      cell(tr, a.provider);
      cell(tr, a.state + (a.lastError ? " (" + a.lastError + ")" : ""), "state-" + a.state.toLowerCase());
      const seen = cell(tr, ago(a.lastSeen, now));
      if (a.lastSeen) seen.title = a.lastSeen;
      const td = document.createElement("td");
      const ul = document.createElement("ul");
      ul.className = "checks";
      for (const c of a.checks) {
        const li = document.createElement("li");
        li.textContent = c.name + ": " + c.status + (c.reason ? " — " + c.reason : "");
        li.className = "state-" + c.status.toLowerCase();
        ul.appendChild(li);
      }
      td.appendChild(ul);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A step line: a score holds until the next row.
  function chart(name, points, since, until) {
    const w = 320, h = 140, left = 28, right = 8, top = 8, bottom = 20;
    const x = (t) => left + (w - left - right) * Math.min(1, Math.max(0, (t - since) / (until - since)));
    const y = (s) => top + (h - top - bottom) * (1 - s / 100);
    const last = points.length ? points[points.length - 1] : null;
    const min = points.reduce((m, p) => Math.min(m, p.score), 100);
    const summary = last
      ? name + ": score now " + last.score + " (" + last.state + "), lowest in the last hour " + min + ", " + points.length + " points"
      : name + ": no score in the last hour";
    const svg = el("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img", "aria-label": summary });
    svg.dataset.provider = name;
    svg.dataset.lastScore = last ? String(last.score) : "";
    svg.dataset.minScore = String(min);
    svg.appendChild(el("title", {}, summary));
    svg.appendChild(el("line", { class: "axis", x1: left, y1: y(0), x2: w - right, y2: y(0) }));
    svg.appendChild(el("line", { class: "axis", x1: left, y1: y(0), x2: left, y2: y(100) }));
    svg.appendChild(el("line", { class: "mid", x1: left, y1: y(50), x2: w - right, y2: y(50) }));
    for (const s of [0, 50, 100]) svg.appendChild(el("text", { x: 2, y: y(s) + 3 }, String(s)));
    svg.appendChild(el("text", { x: left, y: h - 4 }, "−60 min"));
    svg.appendChild(el("text", { x: w - right - 20, y: h - 4 }, "now"));
    if (points.length) {
      const d = [];
      points.forEach((p, i) => {
        const t = Date.parse(p.at);
        if (i === 0) d.push(x(t).toFixed(1) + "," + y(p.score).toFixed(1));
        else {
          d.push(x(t).toFixed(1) + "," + y(points[i - 1].score).toFixed(1));
          d.push(x(t).toFixed(1) + "," + y(p.score).toFixed(1));
        }
      });
      d.push(x(until).toFixed(1) + "," + y(last.score).toFixed(1));
      svg.appendChild(el("polyline", { class: "score", points: d.join(" ") }));
    }
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = name;
    fig.appendChild(cap);
    fig.appendChild(svg);
    return fig;
  }

  function renderCharts(history) {
    const since = Date.parse(history.since), until = Date.parse(history.until);
    const box = $("charts");
    box.replaceChildren();
    for (const name of Object.keys(history.series)) box.appendChild(chart(name, history.series[name], since, until));
  }

  async function refresh() {
    try {
      const [status, history] = await Promise.all([
        fetch("/api/status", { cache: "no-store" }).then((r) => r.json()),
        fetch("/api/history", { cache: "no-store" }).then((r) => r.json()),
      ]);
      const now = Date.parse(status.generatedAt);
      renderProviders(status);
      renderCharts(history);
      renderAgents(status, now);
      const order = status.providers.filter((p) => p.position !== null).map((p) => p.name).join(", ");
      $("updated").textContent = "Updated " + new Date(now).toLocaleTimeString() + ". Routing order: " + (order || "none");
      document.body.dataset.generatedAt = status.generatedAt;
    } catch (e) {
      $("updated").textContent = "Cannot reach the control plane: " + e;
    }
  }

  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").setAttribute("aria-pressed", String(paused));
    $("pause").textContent = paused ? "Resume live refresh" : "Pause live refresh";
  });
  refresh();
  setInterval(() => { if (!paused) refresh(); }, refreshMs);
})();
