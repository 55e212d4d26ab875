/* Fengqiao staff console: plain JS over the public API, with the staff access token. */
"use strict";
(() => {
  const S = {
    lang: localStorage.getItem("fq.lang") || "zh",
    tokens: JSON.parse(sessionStorage.getItem("fq.tokens") || "null"),
    catalogue: null,
  };
  const $ = (sel, root = document) => root.querySelector(sel);
  const t = (k) => (window.FQ_I18N[S.lang] || {})[k] || window.FQ_I18N.zh[k] || k;
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const user = () => S.tokens && S.tokens.user;
  const has = (...roles) => !!user() && user().roles.some((r) => roles.includes(r) || r === "admin");
  const fmt = (ts) => (ts ? new Date(ts).toLocaleString(S.lang === "zh" ? "zh-CN" : "en-GB", {hour12: false}) : "");
  const GRADE_ZH = {red: "红", orange: "橙", yellow: "黄", blue: "蓝"};
  const grade = (g) => (g ? `<span class="grade ${esc(g)}">${esc(S.lang === "zh" ? GRADE_ZH[g] || g : g)}</span>` : "");
  const status = (s) => `<span class="status" data-status="${esc(s)}">${esc(STATUS[S.lang]?.[s] || s)}</span>`;
  const STATUS = {
    zh: {dispatched: "已派发", signed: "已签收", on_site: "已到场", in_progress: "处置中", resolved: "已办结",
      verified: "已核验", returned: "已退单", cancelled: "已撤销", reported: "已上报", routed: "已派单", queued: "待派单",
      closed: "已办结归档", open: "办理中", new: "新案件"},
    en: {},
  };

  // ---- API -------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) { super(body?.message || `HTTP ${status}`); this.status = status; this.body = body || {}; }
    text() {
      const b = this.body; const main = (S.lang === "zh" ? b.message_zh : b.message_en) || b.message || this.message;
      const fields = (b.fields || []).map((f) => `${f.field}: ${S.lang === "zh" ? f.message_zh : f.message_en}`);
      return [main, ...fields].join("；");
    }
  }
  function saveTokens(tok) {
    S.tokens = tok;
    if (tok) sessionStorage.setItem("fq.tokens", JSON.stringify(tok)); else sessionStorage.removeItem("fq.tokens");
  }
  // one refresh at a time: parallel requests that all meet an expired access token share it (refresh tokens
  // rotate, and presenting a spent one ends the session)
  let refreshing = null;
  function refresh() {
    if (!S.tokens?.refresh_token) return Promise.resolve(false);
    if (!refreshing) {
      refreshing = (async () => {
        const r = await fetch("/api/v1/auth/refresh", {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({refresh_token: S.tokens.refresh_token})});
        if (!r.ok) return false;
        saveTokens(await r.json());
        return true;
      })().finally(() => { setTimeout(() => { refreshing = null; }, 0); });
    }
    return refreshing;
  }
  async function api(method, path, body, {raw = false, retry = true} = {}) {
    const headers = {};
    if (S.tokens) headers.Authorization = `Bearer ${S.tokens.access_token}`;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    const r = await fetch(path, {method, headers, body: payload});
    if (r.status === 401 && retry && S.tokens && path !== "/api/v1/auth/logout") {
      const sent = headers.Authorization;
      if ((S.tokens && `Bearer ${S.tokens.access_token}` !== sent) || await refresh()) {
        return api(method, path, body, {raw, retry: false});
      }
      saveTokens(null); flash(t("sessionExpired"), "error"); location.hash = "#/login";
      throw new ApiError(401, {message_zh: t("sessionExpired"), message_en: t("sessionExpired")});
    }
    if (raw) return r;
    const text = await r.text();
    const data = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : null;
    if (!r.ok) throw new ApiError(r.status, typeof data === "object" ? data : {message: text});
    return data;
  }
  const tryApi = async (...args) => { try { return await api(...args); } catch (e) { if (e.status === 401) throw e; return null; } };

  function flash(msg, kind = "info") {
    const box = $("#flash"); const d = document.createElement("div");
    d.className = kind; d.textContent = msg; box.replaceChildren(d);
    if (kind === "info") setTimeout(() => d.remove(), 4000);
  }
  const fail = (e) => flash(e instanceof ApiError ? e.text() : String(e), "error");
  async function busy(btn, fn) {
    if (btn) btn.disabled = true;
    try { await fn(); } catch (e) { fail(e); } finally { if (btn) btn.disabled = false; }
  }
  async function catalogue() {
    if (!S.catalogue) S.catalogue = await api("GET", "/api/v1/catalogue");
    return S.catalogue;
  }
  const deptName = (code) => S.catalogue?.departments.find((d) => d.code === code)?.name || code;
  const domainName = (code) => S.catalogue?.domains.find((d) => d.code === code)?.name || code;
  function geolocate(form) {
    if (!navigator.geolocation) return flash("no geolocation", "error");
    navigator.geolocation.getCurrentPosition((p) => {
      form.lat.value = p.coords.latitude.toFixed(6); form.lon.value = p.coords.longitude.toFixed(6);
    }, (err) => flash(err.message, "error"), {enableHighAccuracy: true, timeout: 10000});
  }
  const localInput = (days, hour) => {
    const d = new Date(Date.now() + days * 86400000); d.setHours(hour, 0, 0, 0);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  const lines = (v) => v.split(/\n+/).map((s) => s.trim()).filter(Boolean);
  const table = (cols, rows, empty = t("noData")) => rows.length
    ? `<table class="responsive"><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`
    : `<p class="muted">${esc(empty)}</p>`;
  const td = (label, html) => `<td data-label="${esc(label)}">${html}</td>`;

  // ---- chrome ----------------------------------------------------------------------------------
  function chrome() {
    document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("#lang").textContent = t("lang");
    $("#logout").hidden = !S.tokens;
    $("#who").textContent = user() ? `${user().display_name || user().username}` : "";
    const items = [];
    if (user()) {
      items.push(["#/home", t("home")]);
      if (has("grid_worker")) items.push(["#/report", t("report")], ["#/my", t("myReports")]);
      if (has("dispatcher", "leader")) items.push(["#/board", t("board")]);
      if (has("department_officer")) items.push(["#/inbox", t("inbox")]);
      if (has("mediator", "party", "dispatcher")) items.push(["#/mediation", t("mediation")]);
      if (has("admin")) items.push(["#/admin", t("admin")]);
      items.push(["#/screen", t("screen")]);
    }
    const cur = location.hash.split("/").slice(0, 2).join("/");
    $("#nav").innerHTML = items.map(([h, l]) => `<a href="${h}" class="${h === cur ? "active" : ""}">${esc(l)}</a>`).join("");
  }

  // ---- pages -----------------------------------------------------------------------------------
  const pages = {};
  pages.login = async (v) => {
    v.innerHTML = `<div class="card" style="max-width:420px;margin:2rem auto"><h1>${esc(t("login"))}</h1>
      <form class="stack" id="login-form"><label for="u">${esc(t("username"))}</label><input id="u" name="username" autocomplete="username" required>
      <label for="p">${esc(t("password"))}</label><input id="p" name="password" type="password" autocomplete="current-password" required>
      <p><button class="primary" type="submit">${esc(t("login"))}</button></p></form></div>`;
    $("#login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = ev.target;
      busy(f.querySelector("button"), async () => {
        saveTokens(await api("POST", "/api/v1/auth/login", {username: f.username.value.trim(), password: f.password.value}));
        location.hash = "#/home";
      });
    });
  };

  pages.home = async (v) => {
    const u = user();
    const tiles = [];
    if (has("grid_worker")) tiles.push(["#/report", t("report"), u.grids?.join("、")], ["#/my", t("myReports"), ""]);
    if (has("dispatcher", "leader")) tiles.push(["#/board", t("board"), `${t("queue")} · ${t("overdue")} · ${t("escalations")}`]);
    if (has("department_officer")) tiles.push(["#/inbox", t("inbox"), deptName(u.department)]);
    if (has("mediator", "party", "dispatcher")) tiles.push(["#/mediation", t("mediation"), u.mediator_id || u.party_id || ""]);
    if (has("admin")) tiles.push(["#/admin", t("admin"), `${t("users")} · ${t("keys")} · ${t("audit")}`]);
    tiles.push(["#/screen", t("screen"), ""]);
    v.innerHTML = `<h1>${esc(t("welcome"))}，${esc(u.display_name || u.username)}</h1>
      <p class="muted">${esc(u.roles.join(", "))}${u.department ? " · " + esc(deptName(u.department)) : ""}</p>
      <div class="tiles">${tiles.map(([h, l, s]) => `<a href="${h}"><strong>${esc(l)}</strong><span class="muted">${esc(s || "")}</span></a>`).join("")}</div>`;
  };

  pages.report = async (v) => {
    const cat = await catalogue();
    const u = user();
    v.innerHTML = `<h1>${esc(t("report"))}</h1><form class="stack card" id="report-form">
      <label for="category">${esc(t("category"))}</label><select id="category" name="category" required>${cat.domains.map((d) => `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join("")}</select>
      <label for="grid">${esc(t("grid"))}</label><select id="grid" name="grid" required>${(u.grids || []).map((g) => `<option value="${esc(g)}">${esc(cat.grids.find((x) => x.code === g)?.name || g)} (${esc(g)})</option>`).join("")}</select>
      <label for="title">${esc(t("title"))}</label><input id="title" name="title" maxlength="100">
      <label for="description">${esc(t("description"))}</label><textarea id="description" name="description" maxlength="4000" required></textarea>
      <label for="people">${esc(t("people"))}</label><input id="people" name="people_involved" type="number" min="0" value="0">
      <label>${esc(t("location"))}</label>
      <div class="row"><input name="lat" placeholder="${esc(t("lat"))}" inputmode="decimal" aria-label="${esc(t("lat"))}"><input name="lon" placeholder="${esc(t("lon"))}" inputmode="decimal" aria-label="${esc(t("lon"))}">
      <button type="button" class="secondary" id="geo">${esc(t("useLocation"))}</button></div>
      <label for="address">${esc(t("address"))}</label><input id="address" name="address" maxlength="300">
      <label for="photo">${esc(t("photo"))}</label><input id="photo" name="photo" type="file" accept="image/*" capture="environment" multiple>
      <p><button class="primary" type="submit">${esc(t("submit"))}</button></p></form><div id="report-result"></div>`;
    const f = $("#report-form");
    const grid = () => cat.grids.find((g) => g.code === f.grid.value);
    const fill = () => { const g = grid(); if (g && !f.lat.value) { f.lat.value = g.centroid.lat; f.lon.value = g.centroid.lon; } };
    $("#geo").addEventListener("click", () => geolocate(f));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(f.querySelector("button[type=submit]"), async () => {
        if (!f.lat.value && !f.address.value) fill();
        const ids = [];
        for (const file of f.photo.files) {
          const fd = new FormData(); fd.append("file", file, file.name);
          ids.push((await api("POST", "/api/v1/attachments", fd)).id);
        }
        const location = {address: f.address.value.trim() || null};
        if (f.lat.value && f.lon.value) { location.lat = Number(f.lat.value); location.lon = Number(f.lon.value); }
        const body = {category: f.category.value, grid: f.grid.value, description: f.description.value.trim(),
          people_involved: Number(f.people_involved.value || 0), location, attachments: ids};
        if (f.title.value.trim()) body.title = f.title.value.trim();
        const c = await api("POST", "/api/v1/cases/grid-events", body);
        $("#report-result").innerHTML = `<div class="card ok" id="reported">${esc(t("reported"))}
          <a href="#/case/${esc(c.id)}" data-case-no="${esc(c.case_no)}">${esc(c.case_no)}</a></div>`;
        f.reset();
      });
    });
  };

  function caseRows(items) {
    return items.map((c) => `<tr>${td(t("caseNo"), `<a href="#/case/${esc(c.id)}">${esc(c.case_no)}</a>`)}
      ${td(t("grade"), grade(c.grade))}${td(t("category"), esc(domainName(c.category)))}
      ${td(t("summary"), esc(c.summary || c.description || ""))}${td(t("grid"), esc(c.grid || ""))}
      ${td(t("status"), status(c.status))}${td(t("reportedAt"), esc(fmt(c.reported_at)))}</tr>`);
  }
  const CASE_COLS = () => [t("caseNo"), t("grade"), t("category"), t("summary"), t("grid"), t("status"), t("reportedAt")];

  pages.my = async (v) => {
    await catalogue();
    const r = await api("GET", "/api/v1/cases?limit=50");
    v.innerHTML = `<h1>${esc(t("myReports"))}</h1>${table(CASE_COLS(), caseRows(r.items))}`;
  };

  pages.case = async (v, ref) => {
    await catalogue();
    const c = await api("GET", `/api/v1/cases/${encodeURIComponent(ref)}`);
    const orders = has("dispatcher", "leader", "department_officer")
      ? (await tryApi("GET", `/api/v1/orders?case_id=${encodeURIComponent(c.id)}`)) || [] : [];
    v.innerHTML = `<h1>${esc(t("caseLink"))} <span id="case-no">${esc(c.case_no)}</span> ${grade(c.grade)} ${status(c.status)}</h1>
      <div class="card"><p><strong>${esc(c.summary || "")}</strong></p><p>${esc(c.description)}</p>
      <p class="muted">${esc(domainName(c.category))} · ${esc(c.grid || "")} · ${esc(c.location?.address || "")}
      ${c.location?.lat != null ? `(${esc(c.location.lat)}, ${esc(c.location.lon)})` : ""} · ${esc(fmt(c.reported_at))}</p>
      ${(c.attachments || []).length ? `<p>${esc(t("attachments"))}：${c.attachments.map((a) => `<span class="status">${esc(a.filename || a.id)}</span>`).join(" ")}</p>` : ""}</div>
      ${orders.length ? `<h2>${esc(t("orders"))}</h2>${table([t("orderNo"), t("department"), t("status")], orders.map((o) =>
        `<tr>${td(t("orderNo"), esc(o.order_id))}${td(t("department"), esc(o.department_name || deptName(o.department)) + (o.role === "lead" ? " ★" : ""))}${td(t("status"), status(o.status))}</tr>`))}` : ""}
      <h2>${esc(t("timeline"))}</h2><ol class="timeline" id="timeline">${(c.timeline || []).map((e) =>
        `<li><time>${esc(fmt(e.at))}</time><strong>${esc(e.kind)}</strong> ${e.status_effect ? status(e.status_effect) : ""}
         ${e.department ? esc(deptName(e.department)) : ""} ${e.actor?.name ? "· " + esc(e.actor.name) : ""}
         ${e.note ? `<div class="muted">${esc(e.note)}</div>` : ""}</li>`).join("")}</ol>`;
  };

  // dispatcher board
  pages.board = async (v, tab = "recent") => {
    const cat = await catalogue();
    const tabs = [["recent", t("recent")], ["queue", t("queue")], ["verify", t("toVerify")], ["overdue", t("overdue")], ["escalations", t("escalations")]];
    v.innerHTML = `<h1>${esc(t("board"))}</h1><div class="tabs">${tabs.map(([k, l]) =>
      `<button type="button" data-tab="${k}" class="${k === tab ? "active" : ""}">${esc(l)}</button>`).join("")}</div><div id="board-body"></div>`;
    v.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => { location.hash = `#/board/${b.dataset.tab}`; }));
    const body = $("#board-body");
    const depts = cat.departments.filter((d) => d.role !== "centre");
    if (tab === "recent") {
      const r = await api("GET", "/api/v1/cases?limit=50");
      body.innerHTML = table(CASE_COLS(), caseRows(r.items));
    } else if (tab === "queue") {
      const q = await api("GET", "/api/v1/dispatch/queue");
      body.innerHTML = table([t("caseNo"), t("grade"), t("summary"), t("reason"), t("dispatch")], q.map((c) => `<tr>
        ${td(t("caseNo"), `<a href="#/case/${esc(c.case_id)}">${esc(c.case_no)}</a>`)}${td(t("grade"), grade(c.grade))}
        ${td(t("summary"), esc(c.summary))}${td(t("reason"), esc(c.queue_reason || ""))}
        ${td(t("dispatch"), `<form class="actions dispatch-form" data-case="${esc(c.case_id)}">
          <select name="lead" aria-label="${esc(t("lead"))}"><option value="">${esc(t("lead"))}</option>${depts.map((d) => `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join("")}</select>
          <select name="assist" multiple aria-label="${esc(t("assist"))}">${depts.map((d) => `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join("")}</select>
          <button class="primary" type="submit">${esc(t("dispatch"))}</button></form>`)}</tr>`));
      body.querySelectorAll(".dispatch-form").forEach((f) => f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        busy(f.querySelector("button"), async () => {
          await api("POST", `/api/v1/dispatch/cases/${encodeURIComponent(f.dataset.case)}/orders`, {
            lead: f.lead.value || null, assist: [...f.assist.selectedOptions].map((o) => o.value)});
          flash(t("done")); route();
        });
      }));
    } else if (tab === "verify") {
      const os = await api("GET", "/api/v1/orders?status=resolved");
      body.innerHTML = table([t("orderNo"), t("caseLink"), t("department"), t("result"), t("actions")], os.map((o) => `<tr data-order="${esc(o.order_id)}">
        ${td(t("orderNo"), esc(o.order_id))}${td(t("caseLink"), `<a href="#/case/${esc(o.case_id)}">${esc(o.case_id)}</a>`)}
        ${td(t("department"), esc(o.department_name || deptName(o.department)))}${td(t("result"), esc(o.result || ""))}
        ${td(t("actions"), `<div class="actions"><input name="comment" placeholder="${esc(t("comment"))}" aria-label="${esc(t("comment"))}">
          <button class="primary" data-verify="1">${esc(t("verify"))}</button><button class="danger" data-verify="0">${esc(t("reject"))}</button></div>`)}</tr>`));
      body.querySelectorAll("[data-verify]").forEach((b) => b.addEventListener("click", () => {
        const tr = b.closest("tr");
        busy(b, async () => {
          await api("POST", `/api/v1/orders/${encodeURIComponent(tr.dataset.order)}/verify`,
            {accepted: b.dataset.verify === "1", comment: tr.querySelector("[name=comment]").value || null});
          flash(t("done")); route();
        });
      }));
    } else if (tab === "overdue") {
      const os = await api("GET", "/api/v1/dispatch/overdue");
      body.innerHTML = table([t("orderNo"), t("caseLink"), t("department"), t("status"), t("dueBy")], os.map((o) => `<tr>
        ${td(t("orderNo"), esc(o.order_id))}${td(t("caseLink"), `<a href="#/case/${esc(o.case_id)}">${esc(o.case_id)}</a>`)}
        ${td(t("department"), esc(o.department_name || deptName(o.department)))}${td(t("status"), status(o.status))}
        ${td(t("dueBy"), esc(fmt(o.due_at || o.sign_for_by || o.resolve_by)))}</tr>`));
    } else {
      const es = await api("GET", "/api/v1/dispatch/escalations");
      body.innerHTML = table([t("when"), t("caseLink"), t("department"), t("reason")], es.map((e) => `<tr>
        ${td(t("when"), esc(fmt(e.at || e.created_at)))}${td(t("caseLink"), `<a href="#/case/${esc(e.case_id)}">${esc(e.case_id)}</a>`)}
        ${td(t("department"), esc(deptName(e.department || e.to_department || "")))}${td(t("reason"), esc(e.reason || e.kind || ""))}</tr>`));
    }
  };

  // department inbox
  const ORDER_ACTIONS = {
    dispatched: [["sign-for", "signFor"], ["return", "returnOrder"]],
    signed: [["check-in", "checkIn"], ["progress", "progress"], ["return", "returnOrder"]],
    on_site: [["progress", "progress"], ["resolve", "resolve"]],
    in_progress: [["progress", "progress"], ["resolve", "resolve"]],
  };
  pages.inbox = async (v) => {
    await catalogue();
    const os = await api("GET", "/api/v1/orders?limit=100");
    const details = await Promise.all(os.slice(0, 40).map((o) => tryApi("GET", `/api/v1/orders/${encodeURIComponent(o.order_id)}`)));
    const brief = Object.fromEntries(details.filter(Boolean).map((d) => [d.order_id, d.case]));
    v.innerHTML = `<h1>${esc(t("inbox"))} · ${esc(deptName(user().department))}</h1>` + (os.length ? os.map((o) => {
      const c = brief[o.order_id] || {};
      const acts = ORDER_ACTIONS[o.status] || [];
      return `<div class="card order" data-order="${esc(o.order_id)}" data-case="${esc(o.case_id)}">
        <div>${grade(c.grade)} <strong>${esc(c.case_no || o.case_id)}</strong> ${status(o.status)} ${o.role === "lead" ? "★" : ""}
          <a href="#/case/${esc(o.case_id)}">${esc(t("view"))}</a></div>
        <p>${esc(c.summary || "")}</p><p class="muted">${esc(c.grid || "")} ${esc(c.location?.address || "")} · ${esc(t("dueBy"))} ${esc(fmt(o.resolve_by))}</p>
        ${acts.length ? `<div class="actions"><input name="text" aria-label="${esc(t("note"))}" placeholder="${esc(t("note"))} / ${esc(t("result"))} / ${esc(t("reason"))}">
          ${acts.map(([a, l]) => `<button type="button" class="${a === "return" ? "danger" : "primary"}" data-act="${a}">${esc(t(l))}</button>`).join("")}</div>` : ""}
      </div>`;
    }).join("") : `<p class="muted">${esc(t("noData"))}</p>`);
    v.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => {
      const card = b.closest(".order"); const text = card.querySelector("[name=text]").value.trim();
      const act = b.dataset.act; const id = encodeURIComponent(card.dataset.order);
      busy(b, async () => {
        let body = {};
        if (act === "check-in") {
          const c = brief[card.dataset.order] || {};
          const loc = await new Promise((resolve) => {
            if (!navigator.geolocation) return resolve(null);
            navigator.geolocation.getCurrentPosition((p) => resolve({lat: p.coords.latitude, lon: p.coords.longitude}),
              () => resolve(null), {timeout: 5000});
          });
          body = {location: loc || {address: text || c.location?.address || c.grid || "现场"}};
        } else if (act === "progress") body = {note: text};
        else if (act === "resolve") body = {result: text};
        else if (act === "return") body = {reason: text};
        await api("POST", `/api/v1/orders/${id}/${act}`, body);
        flash(t("done")); route();
      });
    }));
  };

  // mediation
  pages.mediation = async (v, id) => {
    if (id) return mediationDetail(v, id);
    const list = await api("GET", has("dispatcher") ? "/api/v1/mediation/mediations" : "/api/v1/mediation/my/mediations");
    const cat = await catalogue();
    v.innerHTML = `<h1>${esc(t("mediations"))}</h1>${table([t("name"), t("category"), t("status"), t("summary")], (list || []).map((m) => `<tr>
      ${td(t("name"), `<a href="#/mediation/${esc(m.id)}">${esc(m.id)}</a>`)}${td(t("category"), esc(m.category || ""))}
      ${td(t("status"), status(m.status))}${td(t("summary"), esc(m.summary || ""))}</tr>`))}
      ${has("dispatcher") ? `<h2>${esc(t("book"))}</h2><form class="stack card" id="book-form">
        <label for="mcat">${esc(t("category"))}</label><input id="mcat" name="category" list="mcats" required>
        <datalist id="mcats">${cat.domains.map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`).join("")}</datalist>
        <label for="msum">${esc(t("summary"))}</label><textarea id="msum" name="summary"></textarea>
        <div class="row"><div><label>${esc(t("applicant"))}</label><input name="a_name" placeholder="${esc(t("name"))}" required><input name="a_phone" placeholder="${esc(t("phone"))}" required></div>
        <div><label>${esc(t("respondent"))}</label><input name="r_name" placeholder="${esc(t("name"))}" required><input name="r_phone" placeholder="${esc(t("phone"))}" required></div></div>
        <label for="mmode">${esc(t("mode"))}</label><select id="mmode" name="mode"><option value="centre">${esc(t("centre"))}</option><option value="home">${esc(t("home_visit"))}</option></select>
        <label for="maddr">${esc(t("address"))}</label><input id="maddr" name="address">
        <div class="row"><div><label>${esc(t("windowFrom"))}</label><input name="from" type="datetime-local" value="${esc(localInput(1, 9))}" required></div>
        <div><label>${esc(t("windowTo"))}</label><input name="to" type="datetime-local" value="${esc(localInput(4, 18))}" required></div>
        <div><label>mediator_id</label><input name="mediator_id"></div></div>
        <p><button class="primary" type="submit">${esc(t("book"))}</button></p></form><div id="booked"></div>` : ""}`;
    const f = $("#book-form");
    if (f) f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(f.querySelector("button"), async () => {
        const b = await api("POST", "/api/v1/mediation/bookings", {category: f.category.value, summary: f.summary.value || null,
          parties: [{side: "applicant", name: f.a_name.value, phone: f.a_phone.value}, {side: "respondent", name: f.r_name.value, phone: f.r_phone.value}],
          preference: {mode: f.mode.value, address: f.address.value || null, mediator_id: f.mediator_id.value || null},
          window: {from: new Date(f.from.value).toISOString(), to: new Date(f.to.value).toISOString()}});
        const mid = b.booking?.mediation_id || b.mediation?.id || b.mediation_id;
        flash(`${t("done")}：${fmt(b.booking?.starts_at)} ${b.booking?.mediator_id || ""}`);
        if (mid) location.hash = `#/mediation/${encodeURIComponent(mid)}`;
      });
    });
  };
  async function mediationDetail(v, id) {
    const m = await api("GET", `/api/v1/mediation/mediations/${encodeURIComponent(id)}`);
    const sessions = m.sessions || [];
    v.innerHTML = `<p><a href="#/mediation">← ${esc(t("back"))}</a></p><h1>${esc(t("mediation"))} ${esc(m.id)} ${status(m.status)}</h1>
      <div class="card"><p>${esc(m.summary || "")}</p><p class="muted">${esc(m.category || "")} · ${esc(m.mediator?.name || "")}</p>
      <p>${(m.parties || []).map((p) => `${esc(p.side)}: ${esc(p.name)}`).join(" · ")}</p></div>
      <h2>${esc(t("bookings"))}</h2>${table([t("start"), t("end"), t("mode"), t("status")], (m.bookings || []).map((b) => `<tr>
        ${td(t("start"), esc(fmt(b.starts_at)))}${td(t("end"), esc(fmt(b.ends_at)))}${td(t("mode"), esc(b.mode === "home" ? t("home_visit") : t("centre")))}
        ${td(t("status"), status(b.status))}</tr>`))}
      <h2>${esc(t("sessions"))}</h2>${table([t("start"), t("place"), t("pointsAgreed"), t("signatures")], sessions.map((s) => `<tr data-session="${esc(s.id)}">
        ${td(t("start"), esc(fmt(s.started_at)))}${td(t("place"), esc(s.place))}${td(t("pointsAgreed"), esc((s.points_agreed || []).join("；")))}
        ${td(t("signatures"), s.sealed_at ? `<span class="ok">${esc(t("sealed"))}</span>` : `${esc(t("pending"))}: ${esc((s.pending_signers || []).join(", "))}
          <div class="actions">${has("mediator") && (s.pending_signers || []).some((x) => x.startsWith("mediator")) ? `<button class="secondary" data-sign-mediator>${esc(t("signMediator"))}</button>` : ""}
          ${user().party_id && (s.pending_signers || []).some((x) => x.includes(user().party_id)) ? `<button class="secondary" data-otp>${esc(t("sendCode"))}</button>
            <input name="code" inputmode="numeric" maxlength="6" aria-label="${esc(t("code"))}" placeholder="${esc(t("code"))}"><button class="primary" data-sign-party>${esc(t("confirmSign"))}</button>` : ""}</div>`)}</tr>`))}
      <h2>${esc(t("agreement"))}</h2><div class="card">${m.agreement ? `<p>${esc(m.agreement.id)} · ${esc(fmt(m.agreement.generated_at))}
        · <a href="#" id="agreement-pdf" data-url="${esc(m.agreement.pdf_url || `/api/v1/mediation/agreements/${m.agreement.id}/pdf`)}">PDF</a></p>` : `<p class="muted">${esc(t("noData"))}</p>`}
      ${(m.court_applications || []).map((a) => `<p>${esc(t("court"))}：${status(a.status)} ${esc(fmt(a.applied_at))}</p>`).join("")}
      <div class="actions">${has("mediator") ? `<button class="secondary" id="gen-agreement">${esc(t("generateAgreement"))}</button>` : ""}
      ${has("mediator", "dispatcher") && m.agreement ? `<button class="secondary" id="apply-court">${esc(t("applyCourt"))}</button>` : ""}</div></div>
      ${has("mediator") ? `<h2>${esc(t("recordSession"))}</h2><form class="stack card" id="session-form">
        <div class="row"><div><label>${esc(t("start"))}</label><input name="started_at" type="datetime-local" required></div><div><label>${esc(t("end"))}</label><input name="ended_at" type="datetime-local" required></div></div>
        <label>${esc(t("place"))}</label><input name="place" required><label>${esc(t("attendees"))}</label><input name="attendees" required>
        <label>${esc(t("pointsAgreed"))}</label><textarea name="points_agreed"></textarea><label>${esc(t("pointsOutstanding"))}</label><textarea name="points_outstanding"></textarea>
        <p><button class="primary" type="submit">${esc(t("submit"))}</button></p></form>` : ""}`;
    const pdf = $("#agreement-pdf");
    if (pdf) pdf.addEventListener("click", (ev) => {
      ev.preventDefault();
      busy(null, async () => {
        const r = await api("GET", pdf.dataset.url, undefined, {raw: true});
        if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => ({})));
        window.open(URL.createObjectURL(await r.blob()), "_blank");
      });
    });
    v.querySelectorAll("[data-sign-mediator]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
      const canvas = document.createElement("canvas"); canvas.width = 240; canvas.height = 80;
      const ctx = canvas.getContext("2d"); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 240, 80);
      ctx.fillStyle = "#000"; ctx.font = "28px serif"; ctx.fillText(user().display_name || user().username, 10, 50);
      await api("POST", `/api/v1/mediation/sessions/${encodeURIComponent(b.closest("tr").dataset.session)}/signatures`,
        {signer: "mediator", method: "image", image_base64: canvas.toDataURL("image/png").split(",")[1]});
      flash(t("done")); route();
    })));
    v.querySelectorAll("[data-otp]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
      await api("POST", `/api/v1/mediation/sessions/${encodeURIComponent(b.closest("tr").dataset.session)}/otp`, {party_id: user().party_id});
      flash(t("codeSent"));
    })));
    v.querySelectorAll("[data-sign-party]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
      const tr = b.closest("tr");
      await api("POST", `/api/v1/mediation/sessions/${encodeURIComponent(tr.dataset.session)}/signatures`,
        {signer: "party", party_id: user().party_id, method: "otp", code: tr.querySelector("[name=code]").value.trim()});
      flash(t("done")); route();
    })));
    const g = $("#gen-agreement");
    if (g) g.addEventListener("click", () => busy(g, async () => { await api("POST", `/api/v1/mediation/mediations/${encodeURIComponent(id)}/agreement`, {}); route(); }));
    const c = $("#apply-court");
    if (c) c.addEventListener("click", () => busy(c, async () => { await api("POST", "/api/v1/mediation/court-applications", {mediation_id: id}); route(); }));
    const f = $("#session-form");
    if (f) f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(f.querySelector("button"), async () => {
        await api("POST", `/api/v1/mediation/mediations/${encodeURIComponent(id)}/sessions`, {
          started_at: new Date(f.started_at.value).toISOString(), ended_at: new Date(f.ended_at.value).toISOString(),
          place: f.place.value, attendees: f.attendees.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean),
          points_agreed: lines(f.points_agreed.value), points_outstanding: lines(f.points_outstanding.value)});
        flash(t("saved")); route();
      });
    });
  }

  // admin
  pages.admin = async (v, tab = "users") => {
    const cat = await catalogue();
    const tabs = [["users", t("users")], ["keys", t("keys")], ["audit", t("audit")], ["rules", t("rules")], ["catalogue", t("catalogue")]];
    v.innerHTML = `<h1>${esc(t("admin"))}</h1><div class="tabs">${tabs.map(([k, l]) =>
      `<button type="button" data-tab="${k}" class="${k === tab ? "active" : ""}">${esc(l)}</button>`).join("")}</div><div id="admin-body"></div>`;
    v.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => { location.hash = `#/admin/${b.dataset.tab}`; }));
    const body = $("#admin-body");
    const roles = ["grid_worker", "dispatcher", "department_officer", "mediator", "party", "leader", "admin"];
    if (tab === "users") {
      const us = await api("GET", "/api/v1/admin/users?limit=500");
      body.innerHTML = `<form class="stack card" id="user-form"><div class="row">
        <div><label>${esc(t("username"))}</label><input name="username" required></div><div><label>${esc(t("password"))}</label><input name="password" type="password" required></div>
        <div><label>${esc(t("displayName"))}</label><input name="display_name"></div><div><label>${esc(t("roles"))}</label><select name="role">${roles.map((r) => `<option>${r}</option>`).join("")}</select></div>
        <div><label>${esc(t("department"))}</label><select name="department"><option value=""></option>${cat.departments.map((d) => `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join("")}</select></div>
        <div><label>${esc(t("grid"))}</label><input name="grids" placeholder="WH-01,WH-02"></div><div><label>mediator_id</label><input name="mediator_id"></div><div><label>party_id</label><input name="party_id"></div></div>
        <p><button class="primary" type="submit">${esc(t("create"))}</button></p></form>` +
        table([t("username"), t("displayName"), t("roles"), t("department"), t("status"), t("actions")], us.map((u) => `<tr>
          ${td(t("username"), esc(u.username))}${td(t("displayName"), esc(u.display_name || ""))}${td(t("roles"), esc(u.roles.join(",")))}
          ${td(t("department"), esc(u.department ? deptName(u.department) : (u.grids || []).join(",")))}${td(t("status"), u.disabled ? `<span class="err">${esc(t("disable"))}</span>` : "✓")}
          ${td(t("actions"), `<button class="secondary" data-user="${esc(u.id)}" data-disabled="${u.disabled ? 1 : 0}">${esc(u.disabled ? t("enable") : t("disable"))}</button>`)}</tr>`));
      const f = $("#user-form");
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        busy(f.querySelector("button"), async () => {
          await api("POST", "/api/v1/admin/users", {username: f.username.value.trim(), password: f.password.value,
            display_name: f.display_name.value || null, roles: [f.role.value], department: f.department.value || null,
            grids: f.grids.value.split(/[,，\s]+/).filter(Boolean), mediator_id: f.mediator_id.value || null, party_id: f.party_id.value || null});
          flash(t("saved")); route();
        });
      });
      body.querySelectorAll("[data-user]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
        await api("PATCH", `/api/v1/admin/users/${b.dataset.user}`, {disabled: b.dataset.disabled !== "1"}); route();
      })));
    } else if (tab === "keys") {
      const ks = await api("GET", "/api/v1/admin/api-keys");
      const scopes = [...cat.external_systems.map((e) => ["external_system", e.code, e.name]),
        ...cat.departments.filter((d) => d.role !== "centre").map((d) => ["department", d.code, d.name])];
      body.innerHTML = `<form class="stack card" id="key-form"><div class="row"><div><label>${esc(t("name"))}</label><input name="name" required></div>
        <div><label>${esc(t("scope"))}</label><select name="scope">${scopes.map(([ty, c, n]) => `<option value="${ty}:${esc(c)}">${esc(n)} (${ty})</option>`).join("")}</select></div>
        <div><label>req/min</label><input name="rate" type="number" min="1"></div></div><p><button class="primary" type="submit">${esc(t("create"))}</button></p>
        <p id="new-key"></p></form>` + table([t("name"), t("scopeType"), t("scope"), "prefix", t("actions")], ks.map((k) => `<tr>
          ${td(t("name"), esc(k.name))}${td(t("scopeType"), esc(k.scope_type))}${td(t("scope"), esc(k.scope))}${td("prefix", esc(k.prefix))}
          ${td(t("actions"), `<button class="danger" data-key="${esc(k.id)}">${esc(t("revoke"))}</button>`)}</tr>`));
      const f = $("#key-form");
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        busy(f.querySelector("button"), async () => {
          const [scope_type, scope] = f.scope.value.split(":");
          const k = await api("POST", "/api/v1/admin/api-keys", {name: f.name.value, scope_type, scope,
            rate_limit_per_minute: f.rate.value ? Number(f.rate.value) : null});
          await pages.admin(v, "keys");
          $("#new-key").innerHTML = `${esc(t("keyOnce"))} <code>${esc(k.key)}</code>`;
        });
      });
      body.querySelectorAll("[data-key]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
        await api("DELETE", `/api/v1/admin/api-keys/${b.dataset.key}`); route();
      })));
    } else if (tab === "audit") {
      const rows = await api("GET", "/api/v1/admin/audit?limit=200");
      body.innerHTML = table([t("when"), t("actor"), t("action"), t("object"), t("status"), t("ip")], rows.map((a) => `<tr>
        ${td(t("when"), esc(fmt(a.at)))}${td(t("actor"), esc(`${a.actor_name || "-"} (${a.actor_role || a.actor_kind || "anonymous"})`))}
        ${td(t("action"), esc(a.action))}${td(t("object"), esc(`${a.object_type || ""} ${a.object_id || ""}`))}${td(t("status"), esc(a.status ?? ""))}${td(t("ip"), esc(a.ip || ""))}</tr>`));
    } else if (tab === "rules") {
      const rs = await api("GET", "/api/v1/dispatch/rules");
      const depts = cat.departments.filter((d) => d.role !== "centre");
      const opts = (items) => items.map((d) => `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join("");
      body.innerHTML = `<form class="stack card" id="rule-form"><div class="row">
        <div><label>${esc(t("name"))}</label><input name="name" required></div>
        <div><label>${esc(t("category"))}</label><select name="domain">${opts(cat.domains)}</select></div>
        <div><label>${esc(t("lead"))}</label><select name="lead">${opts(depts)}</select></div>
        <div><label>${esc(t("assist"))}</label><select name="assist" multiple>${opts(depts)}</select></div>
        <div><label>${esc(t("grade"))}</label><select name="grades" multiple>${cat.grades.map((g) => `<option value="${esc(g.code)}">${esc(g.name)}</option>`).join("")}</select></div>
        <div><label>${esc(t("keywords"))}</label><input name="keywords" placeholder="欠薪,讨薪"></div>
        <div><label>${esc(t("priority"))}</label><input name="priority" type="number" min="0" value="10"></div></div>
        <p><button class="primary" type="submit">${esc(t("create"))}</button></p></form>` +
        table([t("name"), t("category"), t("lead"), t("assist"), t("priority"), t("actions")], rs.map((r) => `<tr data-rule="${esc(r.rule_id)}">
          ${td(t("name"), esc(r.name || r.rule_id))}${td(t("category"), esc(domainName(r.domain || "")))}
          ${td(t("lead"), esc(deptName(r.lead)))}${td(t("assist"), esc((r.assist || []).map(deptName).join("、")))}
          ${td(t("priority"), esc(r.priority ?? ""))}${td(t("actions"), `<button class="danger" data-retire>${esc(t("retire"))}</button>`)}</tr>`));
      const f = $("#rule-form");
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        busy(f.querySelector("button"), async () => {
          const many = (sel) => [...sel.selectedOptions].map((o) => o.value);
          await api("POST", "/api/v1/dispatch/rules", {name: f.name.value.trim(), domain: f.domain.value, lead: f.lead.value,
            assist: many(f.assist).filter((c) => c !== f.lead.value), grades: many(f.grades),
            keywords_any: f.keywords.value.split(/[,，\s]+/).filter(Boolean), priority: Number(f.priority.value || 0),
            match: many(f.grades).length && f.keywords.value.trim() ? "any" : "all"});
          flash(t("saved")); route();
        });
      });
      body.querySelectorAll("[data-retire]").forEach((b) => b.addEventListener("click", () => busy(b, async () => {
        await api("DELETE", `/api/v1/dispatch/rules/${encodeURIComponent(b.closest("tr").dataset.rule)}`); route();
      })));
    } else {
      body.innerHTML = `<div class="card"><h2>${esc(t("category"))}</h2>${table(["code", t("name"), t("lead")], cat.domains.map((d) =>
        `<tr>${td("code", esc(d.code))}${td(t("name"), esc(d.name))}${td(t("lead"), esc(deptName(d.lead)))}</tr>`))}
        <h2>${esc(t("department"))}</h2>${table(["code", t("name")], cat.departments.map((d) => `<tr>${td("code", esc(d.code))}${td(t("name"), esc(d.name))}</tr>`))}</div>`;
    }
  };

  pages.screen = async (v) => {
    v.innerHTML = `<h1>${esc(t("screen"))}</h1><div class="card"><p>${esc(t("screenIntro"))}</p>
      <p><a class="primary" href="/screen" id="open-screen" target="_blank" rel="noopener">${esc(t("open"))}</a></p></div>`;
  };

  // ---- router ----------------------------------------------------------------------------------
  async function route() {
    const [, page = "home", arg] = location.hash.replace(/^#/, "").split("/");
    if (!S.tokens && page !== "login") { location.hash = "#/login"; return; }
    // each render gets its own container: a slower, superseded render writes into a detached one
    const seq = S.seq = (S.seq || 0) + 1;
    const v = document.createElement("div");
    $("#view").replaceChildren(v);
    chrome();
    const fn = pages[page] || pages.home;
    try { await fn(v, arg && decodeURIComponent(arg)); } catch (e) {
      if (seq !== S.seq) return;
      if (e.status === 403) v.innerHTML = `<p class="err">${esc(t("forbidden"))}</p>`; else if (e.status !== 401) fail(e);
    }
    if (seq === S.seq) chrome();
  }
  $("#lang").addEventListener("click", () => { S.lang = S.lang === "zh" ? "en" : "zh"; localStorage.setItem("fq.lang", S.lang); route(); });
  $("#logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout", undefined, {raw: true, retry: false}); } catch { /* already out */ }
    saveTokens(null); location.hash = "#/login";
  });
  window.addEventListener("hashchange", route);
  route();
})();
