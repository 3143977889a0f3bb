// The Communications dashboard: a snapshot from /api/v1/queue, then live changes from the SSE stream.
//
// The page holds no token: its calls carry the staff session's cookie, and the server keeps the provider's
// tokens. When the session has ended (401) or cannot be renewed just now (503), the page is loaded again and the
// server decides: through sign-in and back here, or its "sign-in unavailable" page.
// The stream is read with fetch() and a ReadableStream so that a 401 can be told from a dropped connection. We
// parse SSE ourselves and resume with Last-Event-ID after a drop; a `reset` from the server means "too far
// behind: reload the snapshot".
"use strict";

(() => {
  const SECTIONS = ["overdue", "waiting", "upcoming", "waitlisted"];
  const OUTCOMES = ["waiting", "waitlisted", "accepted", "completed", "declined", "cancelled"];
  const OUTCOME_NAMES = {waiting: "Waiting", waitlisted: "Waitlisted", accepted: "Accepted",
                         completed: "Completed", declined: "Declined", cancelled: "Cancelled"};
  const FLAG_NAMES = {escalated: "Overdue", short_notice: "Short notice", possible_duplicate: "Possible duplicate"};
  const SNAPSHOT_LIMIT = 200;
  const FLASH_MS = 3000;
  const CHARTS_EVERY_MS = 60000;
  const labels = JSON.parse(document.getElementById("labels").textContent);
  const $ = (id) => document.getElementById(id);
  const state = {items: new Map(), more: {}, position: null, filters: {}, stream: null,
                 retries: 0, reload: false, refreshTimer: null, signedIn: false, flashes: new Map(), chartsAt: 0,
                 snapshotDay: null, dayTimer: null};

  class AuthError extends Error {}

  // ------------------------------------------------------------------ API

  async function api(path, params = {}) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params)) {
      if (value) url.searchParams.set(key, value);
    }
    const response = await fetch(url, {cache: "no-store", credentials: "same-origin"});
    if ([401, 403, 503].includes(response.status)) throw new AuthError(`${path}: HTTP ${response.status}`);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response;
  }

  // ------------------------------------------------------------------ the session

  async function begin() {
    try {
      await loadSnapshot(true);
    } catch (error) {
      if (error instanceof AuthError) return signOut();
      setConnection("reconnecting", "The queue could not be loaded. Reload the page to try again.");
      return;
    }
    state.signedIn = true;
    connect();
    loadCharts();
    state.dayTimer ??= setInterval(checkDay, 60000);
  }

  function signOut() {
    // The server has the last word on the session: loading the page again shows sign-in or why not.
    state.signedIn = false;
    state.stream?.abort();
    window.location.reload();
  }

  // ------------------------------------------------------------------ snapshot

  async function loadSnapshot(takePosition) {
    const params = {...state.filters, limit: SNAPSHOT_LIMIT};
    const snapshot = await (await api("/api/v1/queue", params)).json();
    state.items.clear();
    for (const section of SECTIONS) {
      for (const item of snapshot[section].items) state.items.set(item.reference, item);
      state.more[section] = snapshot[section].more;
    }
    if (takePosition) state.position = snapshot.position;
    state.snapshotDay = helsinkiDay(new Date());
    renderCounts(snapshot.counts);
    renderTables();
  }

  async function checkDay() {
    // Which table a request is in depends on the date (upcoming: the next 30 days), and no event says a new
    // day has begun: on a new Helsinki day, a dashboard left open loads its tables again.
    if (!state.signedIn || helsinkiDay(new Date()) === state.snapshotDay) return;
    try {
      await loadSnapshot(true);
      connect();
    } catch (error) {
      if (error instanceof AuthError) signOut();
    }
  }

  async function refreshCounts() {
    try {
      const snapshot = await (await api("/api/v1/queue", {...state.filters, limit: 1})).json();
      renderCounts(snapshot.counts);
    } catch (error) {
      if (error instanceof AuthError) signOut();
    }
  }

  function scheduleRefresh() {
    // Counts and charts cover more than the rows on the page: ask again, counts at most every few
    // seconds, the charts (a heavier query over a year of requests) at most once a minute.
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = null;
      refreshCounts();
      if (Date.now() - state.chartsAt > CHARTS_EVERY_MS) loadCharts();
    }, 3000);
  }

  // ------------------------------------------------------------------ the stream

  async function connect() {
    state.stream?.abort();
    const controller = new AbortController();
    state.stream = controller;
    const headers = {Accept: "text/event-stream"};
    if (state.position) headers["Last-Event-ID"] = state.position;
    try {
      const response = await fetch("/api/v1/queue/stream", {headers, cache: "no-store", credentials: "same-origin",
                                                             signal: controller.signal});
      if ([401, 403, 503].includes(response.status)) {
        signOut();
        return;
      }
      if (!response.ok) throw new Error(`stream: HTTP ${response.status}`);
      await readEvents(response.body);
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    if (controller.signal.aborted || !state.signedIn) return;
    if (state.reload) {
      state.reload = false;
      setConnection("connecting", "Catching up…");
      try { await loadSnapshot(true); } catch (error) { if (error instanceof AuthError) return signOut(); }
      return connect();
    }
    setConnection("reconnecting", "Connection lost. Reconnecting…");
    const delay = Math.min(30000, 1000 * 2 ** state.retries++);
    setTimeout(() => { if (state.stream === controller) connect(); }, delay);
  }

  async function readEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        handleBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function handleBlock(block) {
    let event = "message", data = "", id = null;
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data = data ? `${data}\n${value}` : value;
      else if (field === "id") id = value;
    }
    if (!data && event !== "ready") return;
    const payload = data ? JSON.parse(data) : {};
    if (event === "ready") {
      state.retries = 0;
      setConnection("live", "Live");
    } else if (event === "change") {
      applyChange(payload.item, payload.type);
    } else if (event === "remove") {
      removeItem(payload.reference);
    } else if (event === "reset") {
      state.reload = true;
    }
    if (id) state.position = id;
  }

  function setConnection(kind, text) {
    $("connection").dataset.state = kind;
    const at = kind === "live" ? ` since ${clock(new Date())}` : "";
    $("connection-text").textContent = text + at;
  }

  // ------------------------------------------------------------------ applying changes

  function applyChange(item, type) {
    const previous = state.items.get(item.reference);
    if (!item.created_at && previous) item.created_at = previous.created_at;
    if (item.section && matches(item)) state.items.set(item.reference, item);
    else state.items.delete(item.reference);
    flash(item.reference);
    announce(item, previous, type);
    scheduleRefresh();
  }

  function removeItem(reference) {
    state.items.delete(reference);
    renderTables();
    scheduleRefresh();
  }

  function matches(item) {
    const f = state.filters;
    return (!f.division || item.division === f.division) && (!f.status || item.status === f.status) &&
      (!f.focus_area || item.focus_areas.includes(f.focus_area)) && (!f.country || item.country === f.country);
  }

  function announce(item, previous, type) {
    const li = document.createElement("li");
    const what = type === "visit.submitted.v1" ? "new request" :
      type === "visit.escalated.v1" ? "overdue: decision deadline passed" : statusName(item.status);
    const moved = previous && previous.status !== item.status ? ` (was ${statusName(previous.status)})` : "";
    li.innerHTML = "<time></time> <strong></strong>: <span></span>";
    li.querySelector("time").textContent = clock(new Date());
    li.querySelector("strong").textContent = item.reference;
    li.querySelector("span").textContent = `${what}${moved}, ${divisionName(item.division)}`;
    if (item.section === "overdue") li.classList.add("is-overdue");
    const list = $("changes");
    list.prepend(li);
    while (list.children.length > 15) list.lastElementChild.remove();
    $("changes-empty").hidden = true;
  }

  function flash(reference) {
    for (const [ref, at] of state.flashes) if (Date.now() - at > FLASH_MS) state.flashes.delete(ref);
    state.flashes.set(reference, Date.now());
    renderTables();
  }

  // ------------------------------------------------------------------ rendering

  const statusName = (s) => labels.status[s] || s.replace(/_/g, " ");
  const divisionName = (d) => labels.division[d] || d;
  const focusName = (f) => labels.focus_area[f] || f;
  const countryName = (c) => labels.country[c] || c;
  const clock = (d) => d.toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  // Days are Helsinki's, as the service counts them, wherever the browser is: a request received at 00:30 in
  // Helsinki was received that day, although its UTC timestamp still has the day before.
  const HELSINKI_DAY = new Intl.DateTimeFormat("en-CA", {timeZone: "Europe/Helsinki", year: "numeric",
                                                         month: "2-digit", day: "2-digit"});  // YYYY-MM-DD
  const helsinkiDay = (instant) => HELSINKI_DAY.format(instant);
  const day = (value) => (!value ? "–" : value.length > 10 ? helsinkiDay(new Date(value)) : value);

  function visitWhen(item) {
    // The day, then the local hours and the venue when the division gave them: "2027-03-03 10:00–13:00, Hall A".
    const hours = item.start_time && item.end_time ? ` ${item.start_time}–${item.end_time}` : "";
    return `${day(item.visit_date)}${hours}${item.venue ? `, ${item.venue}` : ""}`;
  }

  function ageText(created) {
    if (!created) return "–";
    const received = day(created);
    const days = Math.round((Date.parse(helsinkiDay(new Date())) - Date.parse(received)) / 86400000);
    return `${received} (${days === 0 ? "today" : days === 1 ? "1 day ago" : `${days} days ago`})`;
  }

  const ORDER = {
    overdue: (i) => `${i.decision_deadline || "9999"}${i.created_at || ""}`,
    waiting: (i) => `${i.decision_deadline || "9999"}${i.created_at || ""}`,
    upcoming: (i) => `${i.visit_date || ""}${i.created_at || ""}`,
    waitlisted: (i) => i.created_at || "",
  };

  function renderTables() {
    for (const section of SECTIONS) {
      const items = [...state.items.values()].filter((i) => i.section === section && matches(i));
      items.sort((a, b) => ORDER[section](a).localeCompare(ORDER[section](b)));
      const body = $(`table-${section}`).tBodies[0];
      body.replaceChildren(...items.map((item) => row(item, section)));
      $(`${section}-count`).textContent = `(${items.length}${state.more[section] ? "+" : ""})`;
      $(`${section}-empty`).hidden = items.length > 0;
      $(`table-${section}`).closest(".table-wrap").hidden = items.length === 0;
      $(`${section}-more`).hidden = !state.more[section];
    }
  }

  function row(item, section) {
    const tr = document.createElement("tr");
    tr.dataset.reference = item.reference;
    tr.dataset.status = item.status;
    if (section === "overdue") tr.classList.add("is-overdue");
    const since = Date.now() - (state.flashes.get(item.reference) || 0);
    if (since < FLASH_MS) {
      // Rows are rebuilt on every change: carry on the highlight where it was, rather than restart it.
      tr.classList.add("changed");
      tr.style.animationDelay = `-${since}ms`;
    }
    const dateValue = section === "upcoming" ? visitWhen(item) :
      section === "waitlisted" ? day(item.created_at) : day(item.decision_deadline);
    const cells = [
      ["Reference", item.reference, "reference"],
      ["Status", statusName(item.status), "status"],
      ["Division", divisionName(item.division)],
      ["Focus areas", item.focus_areas.map(focusName).join(", ")],
      ["Country", countryName(item.country)],
      ["Flags", null, "flags"],
      ["Received", ageText(item.created_at)],
      [section === "upcoming" ? "Visit date, time and venue" : section === "waitlisted" ? "Waiting since" : "Deadline",
       dateValue],
    ];
    for (const [label, text, kind] of cells) {
      const cell = document.createElement(kind === "reference" ? "th" : "td");
      if (kind === "reference") cell.scope = "row";
      cell.dataset.label = label;
      if (kind) cell.classList.add(`cell-${kind}`);
      if (kind === "flags") cell.append(...badges(item, section));
      else cell.textContent = text;
      tr.append(cell);
    }
    return tr;
  }

  function badges(item, section) {
    const list = [];
    const add = (text, kind) => {
      const span = document.createElement("span");
      span.className = `badge badge-${kind}`;
      span.textContent = text;
      list.push(span, document.createTextNode(" "));
    };
    if (section === "overdue") add("Overdue", "overdue");
    if (item.rank_level <= 2) add(`Level ${item.rank_level}`, "level");
    if (item.press) add("Press", "press");
    for (const flag of item.flags) if (flag !== "escalated") add(FLAG_NAMES[flag] || flag, "flag");
    if (!list.length) list.push(document.createTextNode("–"));
    return list;
  }

  function renderCounts(counts) {
    const box = $("counts");
    box.replaceChildren();
    const summary = document.createElement("dl");
    summary.className = "count-cards";
    const card = (name, value, kind = "") => {
      const div = document.createElement("div");
      div.className = `count-card ${kind}`;
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = name;
      dd.textContent = String(value);
      div.append(dt, dd);
      summary.append(div);
    };
    card("In the queue", counts.total);
    card("Overdue", counts.overdue, counts.overdue ? "is-overdue" : "");
    for (const [status, n] of Object.entries(counts.by_status)) card(statusName(status), n);
    box.append(summary);
    const tables = document.createElement("div");
    tables.className = "count-tables";
    tables.append(countTable("By division", "Division", counts.by_division, divisionName),
                  countTable("By primary focus area", "Focus area", counts.by_focus_area, focusName));
    box.append(tables);
  }

  function countTable(caption, heading, values, name) {
    const entries = Object.entries(values).sort((a, b) => b[1] - a[1]);
    return table(caption, [heading, "Requests"], entries.map(([key, n]) => [name(key), n]));
  }

  function table(caption, headings, rows) {
    const t = document.createElement("table");
    t.className = "data-table";
    const c = t.createCaption();
    c.textContent = caption;
    const head = t.createTHead().insertRow();
    for (const h of headings) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.append(th);
    }
    const body = t.createTBody();
    for (const values of rows) {
      const tr = body.insertRow();
      values.forEach((value, i) => {
        const cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) cell.scope = "row";
        cell.textContent = String(value);
        tr.append(cell);
      });
    }
    if (!rows.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = headings.length;
      cell.textContent = "None.";
    }
    return t;
  }

  // ------------------------------------------------------------------ charts (plain SVG)

  const SVG = "http://www.w3.org/2000/svg";

  function svgEl(name, attributes = {}, text = null) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
    if (text !== null) el.textContent = text;
    return el;
  }

  function chartParams(groupBy) {
    const {status, ...filters} = state.filters;
    return {...filters, group_by: groupBy, from: $("period-from").value, to: $("period-to").value};
  }

  async function loadCharts() {
    state.chartsAt = Date.now();
    try {
      const [months, countries] = await Promise.all([
        api("/api/v1/stats", chartParams("month,outcome")).then((r) => r.json()),
        api("/api/v1/stats", chartParams("country,focus_area,outcome")).then((r) => r.json()),
      ]);
      drawMonths(months);
      drawCountries(countries);
      drawGrid(countries);
    } catch (error) {
      if (error instanceof AuthError) signOut();
    }
  }

  function sumBy(rows, key, series) {
    const totals = new Map();
    for (const r of rows) {
      const entry = totals.get(r[key]) || {};
      entry[r[series]] = (entry[r[series]] || 0) + r.count;
      totals.set(r[key], entry);
    }
    return totals;
  }

  function monthsBetween(from, to) {
    const months = [];
    let [y, m] = from.split("-").map(Number);
    const [ty, tm] = to.split("-").map(Number);
    while (y < ty || (y === ty && m <= tm)) {
      months.push(`${y}-${String(m).padStart(2, "0")}`);
      if (++m > 12) { m = 1; y++; }
    }
    return months;
  }

  function drawMonths(stats) {
    const totals = sumBy(stats.rows, "month", "outcome");
    const months = monthsBetween(stats.from.slice(0, 7), stats.to.slice(0, 7)).slice(-24);
    stackedChart($("chart-months"), months, (m) => m.slice(2), totals, "vertical");
  }

  function drawCountries(stats) {
    const totals = sumBy(stats.rows, "country", "outcome");
    const sum = (entry) => Object.values(entry).reduce((a, b) => a + b, 0);
    const top = [...totals.entries()].sort((a, b) => sum(b[1]) - sum(a[1])).slice(0, 12).map(([c]) => c);
    stackedChart($("chart-countries"), top, countryName, totals, "horizontal");
  }

  function stackedChart(figure, categories, name, totals, direction) {
    const canvas = figure.querySelector(".chart-canvas");
    const values = (c) => totals.get(c) || {};
    const max = Math.max(1, ...categories.map((c) => Object.values(values(c)).reduce((a, b) => a + b, 0)));
    const horizontal = direction === "horizontal";
    const band = horizontal ? 28 : Math.max(24, Math.floor(640 / Math.max(categories.length, 1)));
    const width = horizontal ? 720 : Math.max(360, 48 + band * categories.length);
    const height = horizontal ? 24 + band * Math.max(categories.length, 1) : 260;
    const left = horizontal ? 170 : 40, plot = horizontal ? width - left - 40 : height - 70;  // room for totals
    const svg = svgEl("svg", {viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart-svg",
                              "aria-labelledby": `${figure.id}-title`});
    svg.append(svgEl("title", {id: `${figure.id}-title`}, figure.querySelector("figcaption").textContent));
    categories.forEach((category, i) => {
      let offset = 0;
      const label = horizontal ? svgEl("text", {x: left - 8, y: 24 + i * band + band / 2, class: "axis-label",
                                                 "text-anchor": "end", "dominant-baseline": "middle"},
                                         truncate(name(category), 24))
        : svgEl("text", {x: 40 + i * band + band / 2, y: height - 30, class: "axis-label", "text-anchor": "middle"},
                name(category));
      svg.append(label);
      for (const outcome of OUTCOMES) {
        const n = values(category)[outcome] || 0;
        if (!n) continue;
        const size = (n / max) * plot;
        const rect = horizontal
          ? svgEl("rect", {x: left + offset, y: 24 + i * band + 3, width: size, height: band - 6})
          : svgEl("rect", {x: 40 + i * band + 3, y: height - 50 - offset - size, width: band - 6, height: size});
        rect.setAttribute("class", `outcome-${outcome}`);
        rect.append(svgEl("title", {}, `${name(category)}: ${OUTCOME_NAMES[outcome]} ${n}`));
        svg.append(rect);
        offset += size;
      }
      const total = Object.values(values(category)).reduce((a, b) => a + b, 0);
      if (total && horizontal) {
        svg.append(svgEl("text", {x: left + offset + 6, y: 24 + i * band + band / 2, class: "value-label",
                                  "dominant-baseline": "middle"}, total));
      } else if (total) {
        svg.append(svgEl("text", {x: 40 + i * band + band / 2, y: height - 56 - offset, class: "value-label",
                                  "text-anchor": "middle"}, total));
      }
    });
    if (!categories.length) svg.append(svgEl("text", {x: 20, y: 30, class: "axis-label"}, "No requests."));
    const rows = categories.map((c) => [name(c), ...OUTCOMES.map((o) => values(c)[o] || 0)]);
    canvas.replaceChildren(svg, legend(), numbers(figure, ["", ...OUTCOMES.map((o) => OUTCOME_NAMES[o])], rows));
  }

  function drawGrid(stats) {
    const figure = $("chart-grid");
    const cells = new Map();
    const countryTotals = new Map();
    for (const r of stats.rows) {
      const key = `${r.country}|${r.focus_area}`;
      cells.set(key, (cells.get(key) || 0) + r.count);
      countryTotals.set(r.country, (countryTotals.get(r.country) || 0) + r.count);
    }
    const countries = [...countryTotals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([c]) => c);
    const areas = Object.keys(labels.focus_area);
    const max = Math.max(1, ...cells.values());
    const cell = 52, left = 170, top = 110;
    const svg = svgEl("svg", {viewBox: `0 0 ${left + cell * areas.length + 90} ${top + cell * Math.max(countries.length, 1)}`,
                              role: "img", class: "chart-svg", "aria-labelledby": "chart-grid-title"});
    svg.append(svgEl("title", {id: "chart-grid-title"}, figure.querySelector("figcaption").textContent));
    areas.forEach((area, j) => {
      const x = left + j * cell + cell / 2;
      svg.append(svgEl("text", {x, y: top - 8, class: "axis-label", transform: `rotate(-40 ${x} ${top - 8})`},
                       truncate(focusName(area), 18)));
    });
    countries.forEach((country, i) => {
      svg.append(svgEl("text", {x: left - 8, y: top + i * cell + cell / 2, class: "axis-label", "text-anchor": "end",
                                "dominant-baseline": "middle"}, truncate(countryName(country), 24)));
      areas.forEach((area, j) => {
        const n = cells.get(`${country}|${area}`) || 0;
        const shade = n ? Math.ceil((n / max) * 4) : 0;
        const rect = svgEl("rect", {x: left + j * cell + 1, y: top + i * cell + 1, width: cell - 2, height: cell - 2,
                                    class: `heat heat-${shade}`});
        rect.append(svgEl("title", {}, `${countryName(country)}, ${focusName(area)}: ${n}`));
        svg.append(rect, svgEl("text", {x: left + j * cell + cell / 2, y: top + i * cell + cell / 2,
                                        class: `heat-label heat-label-${shade}`, "text-anchor": "middle",
                                        "dominant-baseline": "middle"}, n || ""));
      });
    });
    if (!countries.length) svg.append(svgEl("text", {x: 20, y: top + 20, class: "axis-label"}, "No requests."));
    const rows = countries.map((c) => [countryName(c), ...areas.map((a) => cells.get(`${c}|${a}`) || 0)]);
    figure.querySelector(".chart-canvas").replaceChildren(svg, numbers(figure, ["", ...areas.map(focusName)], rows));
  }

  function legend() {
    const list = document.createElement("ul");
    list.className = "legend";
    for (const outcome of OUTCOMES) {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch outcome-${outcome}`;
      swatch.setAttribute("aria-hidden", "true");
      li.append(swatch, document.createTextNode(OUTCOME_NAMES[outcome]));
      list.append(li);
    }
    return list;
  }

  function numbers(figure, headings, rows) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Show the numbers as a table";
    details.append(summary, table(figure.querySelector("figcaption").textContent, headings, rows));
    return details;
  }

  const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

  async function downloadCsv() {
    try {
      const response = await api("/api/v1/stats.csv", chartParams("month,country,focus_area,outcome"));
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = `visit-requests-${$("period-from").value}-${$("period-to").value}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      if (error instanceof AuthError) signOut();
    }
  }

  // ------------------------------------------------------------------ start

  function fillSelect(id, entries) {
    const select = $(id);
    for (const [value, text] of entries) select.add(new Option(text, value));
  }

  function readFilters() {
    const form = new FormData($("filters"));
    state.filters = Object.fromEntries([...form.entries()].filter(([, v]) => v));
  }

  async function filtersChanged() {
    readFilters();
    try {
      await loadSnapshot(false);
    } catch (error) {
      if (error instanceof AuthError) return signOut();
    }
    loadCharts();
  }

  function start() {
    fillSelect("filter-division", Object.entries(labels.division));
    fillSelect("filter-status", Object.entries(labels.status));
    fillSelect("filter-focus_area", Object.entries(labels.focus_area));
    fillSelect("filter-country", Object.entries(labels.country).sort((a, b) => a[1].localeCompare(b[1], "en")));
    const today = helsinkiDay(new Date());  // Helsinki's (see `day`): another date would leave out today's requests
    const [year, month] = today.split("-").map(Number);
    const yearAgo = new Date(year - 1, month, 1);  // the first of the month eleven months back
    $("period-from").value = `${yearAgo.getFullYear()}-${String(yearAgo.getMonth() + 1).padStart(2, "0")}-01`;
    $("period-to").value = today;
    $("filters").addEventListener("change", filtersChanged);
    $("filters").addEventListener("reset", () => setTimeout(filtersChanged, 0));
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("period").addEventListener("change", loadCharts);
    $("period").addEventListener("submit", (e) => e.preventDefault());
    $("download-csv").addEventListener("click", downloadCsv);
    begin();
  }

  start();
})();
