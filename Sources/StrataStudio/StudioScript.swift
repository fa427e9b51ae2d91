// The studio's script, served as /studio.js: a router over the page's
// views (studies and runs, a study, a run, an item, two runs), each drawn
// from the JSON API, every chart as SVG.
extension StudioAssets {
    static let script = #"""
        "use strict";
        // Strata Studio: every view drawn from the studio's JSON API, every chart as SVG.
        // Text from stores (model answers, configurations) only ever goes in through textContent.

        const view = () => document.getElementById("view");
        const SVG = "http://www.w3.org/2000/svg";
        let liveSource = null;

        function el(tag, attrs, ...children) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(attrs || {})) {
            if (value === undefined || value === null || value === false) continue;
            // Styles through the CSSOM: the page's policy refuses style attributes in markup.
            if (key === "onclick" || key === "oninput") node[key] = value;
            else if (key === "style") node.style.cssText = value;
            else node.setAttribute(key, value === true ? "" : value);
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }

        function svg(tag, attrs, ...children) {
          const node = document.createElementNS(SVG, tag);
          for (const [key, value] of Object.entries(attrs || {})) {
            if (value === undefined || value === null) continue;
            if (key === "style") node.style.cssText = value; else node.setAttribute(key, value);
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }

        async function api(path) {
          const response = await fetch(path, { headers: { accept: "application/json" } });
          if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
          return response.json();
        }

        const fixed = (value, digits = 3) => (value === undefined || value === null || Number.isNaN(value) ? "—" : Number(value).toFixed(digits));
        const usd = (value) => (value === undefined || value === null ? "—" : "$" + Number(value).toFixed(value < 0.01 ? 5 : 3));
        const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleString() : "—");
        const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
        const palette = ["#2f6fdf", "#e07b39", "#1f9d55", "#9b59b6", "#d64545", "#16a2b8", "#8c6d31", "#e377c2", "#7f7f7f", "#bcbd22"];

        // Ticks a person reads: 1, 2 or 5 times a power of ten, about `count` of them; whole numbers only for a count (calls, samples).
        function ticks(low, high, count = 5, integer = false) {
          if (!(high > low)) { const pad = integer ? 1 : Math.abs(low) > 0 ? Math.abs(low) * 0.1 : 1; low -= pad; high += pad; }
          const raw = (high - low) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
          const nice = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
          const step = integer ? Math.max(1, Math.round(nice)) : nice;
          const values = [];
          // From the tick at or below the lowest value to the one at or above the highest, so every point is between two labels.
          const first = Math.floor(low / step + 1e-9) * step, last = Math.ceil(high / step - 1e-9) * step;
          for (let v = first; v <= last + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
          return { values, low: Math.min(low, values[0]), high: Math.max(high, values[values.length - 1]), step };
        }

        function tickLabel(value, step) {
          const digits = Math.max(0, -Math.floor(Math.log10(step)));
          return value.toFixed(Math.min(digits, 6));
        }

        // A scatter or line chart with tick labels on both axes.
        function chart({ id, width = 560, height = 280, xLabel, yLabel, points, lines = [], pointClass = () => "point", title = () => "", integerX = false, xPad = 0, yDomain = null }) {
          const margin = { left: 56, right: 14, top: 14, bottom: 40 };
          const xs = points.map((p) => p.x).concat(lines.flatMap((l) => l.points.map((p) => p.x)));
          const ys = points.map((p) => p.y).concat(lines.flatMap((l) => l.points.map((p) => p.y)));
          const root = svg("svg", { id, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${yLabel} against ${xLabel}`, "data-points": points.length });
          if (xs.length === 0) {
            root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no trials yet"));
            return root;
          }
          // A pad keeps large points off the frame; a domain (scores from 0 to 1) keeps the axis to values that can be.
          const xt = ticks(Math.min(...xs) - xPad, Math.max(...xs) + xPad, 5, integerX);
          const yt = yDomain ? ticks(Math.min(yDomain[0], ...ys), Math.max(yDomain[1], ...ys)) : ticks(Math.min(...ys), Math.max(...ys));
          const sx = (x) => margin.left + ((x - xt.low) / (xt.high - xt.low)) * (width - margin.left - margin.right);
          const sy = (y) => height - margin.bottom - ((y - yt.low) / (yt.high - yt.low)) * (height - margin.top - margin.bottom);
          const axis = svg("g", { class: "axis" });
          axis.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: height - margin.bottom, y2: height - margin.bottom }));
          axis.append(svg("line", { x1: margin.left, x2: margin.left, y1: margin.top, y2: height - margin.bottom }));
          for (const v of xt.values) {
            axis.append(svg("line", { x1: sx(v), x2: sx(v), y1: height - margin.bottom, y2: height - margin.bottom + 4 }));
            axis.append(svg("text", { class: "x-tick", x: sx(v), y: height - margin.bottom + 16, "text-anchor": "middle" }, tickLabel(v, xt.step)));
          }
          for (const v of yt.values) {
            axis.append(svg("line", { x1: margin.left - 4, x2: margin.left, y1: sy(v), y2: sy(v) }));
            axis.append(svg("text", { class: "y-tick", x: margin.left - 7, y: sy(v) + 4, "text-anchor": "end" }, tickLabel(v, yt.step)));
          }
          axis.append(svg("text", { x: (margin.left + width - margin.right) / 2, y: height - 6, "text-anchor": "middle" }, xLabel));
          axis.append(svg("text", { x: 12, y: (margin.top + height - margin.bottom) / 2, transform: `rotate(-90 12 ${(margin.top + height - margin.bottom) / 2})`, "text-anchor": "middle" }, yLabel));
          root.append(axis);
          for (const line of lines) {
            root.append(svg("polyline", {
              class: line.class, points: line.points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), "data-series": line.name ?? null,
              style: line.color ? `fill:none;stroke:${line.color};stroke-width:2` : null,
            }));
          }
          // Thousands of points: the plain ones as one path of dots (one element, not thousands), the marked ones as circles.
          const many = points.length > 1000;
          const dots = [];
          for (const p of points) {
            const cls = pointClass(p);
            if (many && cls === "point") { dots.push(`M${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}h0`); continue; }
            root.append(svg("circle", { class: cls, cx: sx(p.x), cy: sy(p.y), r: 4, "data-x": p.x, "data-y": p.y }, many ? null : svg("title", {}, title(p))));
          }
          if (dots.length) root.insertBefore(svg("path", { class: "dots", d: dots.join("") }), root.querySelector("circle"));
          return root;
        }

        // Sortable table: columns [{key, label, value(row), text(row), numeric}]; onRow(row) on a click.
        function table({ id, columns, rows, sort, onSort, onRow, selected, limit = Infinity }) {
          const head = el("tr", {}, columns.map((c) => {
            const cls = ["sortable", c.numeric ? "num" : "", sort && sort.key === c.key ? (sort.dir > 0 ? "sorted-asc" : "sorted-desc") : ""].join(" ").trim();
            return el("th", { class: cls, "data-key": c.key, onclick: () => onSort && onSort(c.key) }, c.label);
          }));
          const sorted = rows.slice();
          if (sort) {
            const column = columns.find((c) => c.key === sort.key);
            if (column) sorted.sort((a, b) => {
              const x = column.value(a), y = column.value(b);
              if (x === y) return 0;
              if (x === undefined || x === null) return 1;
              if (y === undefined || y === null) return -1;
              return (typeof x === "number" && typeof y === "number" ? x - y : natural.compare(String(x), String(y))) * sort.dir;
            });
          }
          const body = sorted.slice(0, limit).map((row) => el("tr", { class: onRow ? "clickable" + (selected && selected(row) ? " selected" : "") : "", onclick: onRow ? () => onRow(row) : null },
            columns.map((c) => el("td", { class: c.numeric ? "num" : "" }, c.text ? c.text(row) : c.value(row) ?? "—"))));
          return el("table", { id }, el("thead", {}, head), el("tbody", {}, body));
        }

        function setStores(overview) {
          const parts = [];
          if (overview.studyStore) parts.push(`studies: ${overview.studyStore}`);
          if (overview.runStore) parts.push(`runs: ${overview.runStore}`);
          document.getElementById("stores").textContent = parts.join(" · ") + " (read-only)";
        }

        // ---- Home: every study and run ----
        async function renderHome() {
          const overview = await api("/api/overview");
          setStores(overview);
          const chosen = new Set();
          const compare = el("button", { id: "compare", disabled: true, onclick: () => { const [a, b] = [...chosen]; location.hash = `#/compare/${a}/${b}`; } }, "Compare two runs");
          const studies = table({
            id: "studies",
            columns: [
              { key: "name", label: "Study", value: (s) => s.name },
          // A study store has no end marker: a study that wrote a trial in the last minute is being written.
          { key: "status", label: "Status", value: (s) => (s.lastFinishedAt && Date.now() / 1000 - s.lastFinishedAt < 60 ? "writing" : "idle") },
              { key: "trials", label: "Trials", value: (s) => s.trials, numeric: true },
              { key: "failed", label: "Failed", value: (s) => s.failed, numeric: true },
              { key: "best", label: "Best objective", value: (s) => s.bestObjective, text: (s) => fixed(s.bestObjective), numeric: true },
              { key: "last", label: "Last trial", value: (s) => s.lastFinishedAt, text: (s) => when(s.lastFinishedAt) },
              { key: "space", label: "Space", value: (s) => s.spacePath },
            ],
            rows: overview.studies,
            onRow: (s) => { location.hash = `#/study/${encodeURIComponent(s.id)}`; },
          });
          const runs = table({
            id: "runs",
            columns: [
              { key: "pick", label: "", value: () => "", text: (r) => el("input", { type: "checkbox", "data-run": r.id, onclick: (event) => {
                event.stopPropagation();
                if (event.target.checked) chosen.add(r.id); else chosen.delete(r.id);
                compare.disabled = chosen.size !== 2;
              } }) },
              { key: "pipeline", label: "Pipeline", value: (r) => r.pipelinePath },
              { key: "dataset", label: "Dataset", value: (r) => r.datasetPath },
              { key: "scorer", label: "Scorer", value: (r) => r.scorer },
              { key: "items", label: "Items", value: (r) => r.finished, text: (r) => `${r.finished} of ${r.items}`, numeric: true },
              { key: "mean", label: "Mean score", value: (r) => r.meanScore, text: (r) => fixed(r.meanScore), numeric: true },
              { key: "created", label: "Started", value: (r) => r.createdAt, text: (r) => when(r.createdAt) },
            ],
            rows: overview.runs,
            onRow: (r) => { location.hash = `#/run/${encodeURIComponent(r.id)}`; },
          });
          view().replaceChildren(
            el("h2", {}, "Studies"), overview.studies.length ? studies : el("p", { class: "muted" }, overview.studyStore ? "No study in this store yet." : "No study store was given (--store)."),
            el("h2", {}, "Evaluation runs"), overview.runs.length ? el("div", {}, compare, runs) : el("p", { class: "muted" }, overview.runStore ? "No run in this store yet." : "No run store was given (--runs)."),
          );
        }

        // ---- A study: history, Pareto front, parallel coordinates, importance, trials ----
        function isScored(t) { return t.status === "complete" && t.phase === "dev" && t.objective !== null && t.objective !== undefined; }

        // Development trials only: held-out scores are on other items.
        function paretoFront(trials) {
          const points = trials.filter((t) => t.status === "complete" && t.phase === "dev" && t.score !== null && t.score !== undefined)
            .map((t) => ({ x: t.staticCalls, y: t.score, trial: t })).sort((a, b) => a.x - b.x || b.y - a.y);
          const front = [];
          for (const p of points) if (front.length === 0 || p.y > front[front.length - 1].y) front.push(p);
          return { points, front };
        }

        function parallelCoordinates(axes, trials) {
          const width = 1300, height = 300, margin = { left: 40, right: 60, top: 24, bottom: 24 };
          const scored = trials.filter(isScored);
          const dims = axes.concat(["objective"]);
          const root = svg("svg", { id: "parallel", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "parallel coordinates" });
          if (scored.length === 0) return root;
          const x = (i) => margin.left + (dims.length === 1 ? 0 : (i / (dims.length - 1)) * (width - margin.left - margin.right));
          const scales = dims.map((dim) => {
            if (dim === "objective") {
              const t = ticks(Math.min(...scored.map((s) => s.objective)), Math.max(...scored.map((s) => s.objective)));
              return { position: (trial) => height - margin.bottom - ((trial.objective - t.low) / (t.high - t.low)) * (height - margin.top - margin.bottom), labels: t.values.map((v) => [v, tickLabel(v, t.step)]), numeric: t };
            }
            const values = [...new Set(scored.map((s) => s.configuration[dim] ?? "—"))].sort(natural.compare);
            const at = (value) => values.length === 1 ? (margin.top + height - margin.bottom) / 2 : height - margin.bottom - (values.indexOf(value) / (values.length - 1)) * (height - margin.top - margin.bottom);
            return { position: (trial) => at(trial.configuration[dim] ?? "—"), labels: values.map((v) => [v, v]), at };
          });
          const cut = scored.map((s) => s.objective).sort((a, b) => b - a)[Math.max(0, Math.ceil(scored.length * 0.1) - 1)];
          // Past 600 lines the picture is ink: the best 300 of the top tenth are always drawn, an even sample of the rest.
          const rest = scored.filter((t) => t.objective < cut), every = Math.max(1, Math.ceil(rest.length / 300));
          const top = scored.filter((t) => t.objective >= cut).sort((a, b) => b.objective - a.objective).slice(0, 300);
          const drawn = rest.filter((_, i) => i % every === 0).concat(top);
          root.setAttribute("data-lines", drawn.length);
          for (const trial of drawn) {
            root.append(svg("polyline", { class: "pc-line" + (trial.objective >= cut ? " top" : ""), points: dims.map((_, i) => `${x(i)},${scales[i].position(trial)}`).join(" ") },
              drawn.length > 300 ? null : svg("title", {}, `trial ${trial.number}: ${fixed(trial.objective)}`)));
          }
          dims.forEach((dim, i) => {
            const g = svg("g", { class: "axis" });
            g.append(svg("line", { x1: x(i), x2: x(i), y1: margin.top, y2: height - margin.bottom }));
            g.append(svg("text", { x: x(i), y: 14, "text-anchor": "middle", style: "font-weight:600" }, dim));
            const scale = scales[i];
            for (const [value, label] of scale.labels.slice(0, 12)) {
              const y = scale.at ? scale.at(value) : height - margin.bottom - ((value - scale.numeric.low) / (scale.numeric.high - scale.numeric.low)) * (height - margin.top - margin.bottom);
              g.append(svg("text", { x: x(i) + 4, y: y + 4 }, label));
            }
            root.append(g);
          });
          return root;
        }

        async function renderStudy(id) {
          const data = await api(`/api/studies/${encodeURIComponent(id)}`);
          const trials = new Map(data.trials.map((t) => [t.identity, t]));
          const state = { sort: { key: "number", dir: 1 }, filter: "", selected: null, limit: 200, importance: data.importance, study: data.study, axes: data.axes, updates: 0 };
          const live = el("span", { id: "live", class: "live off" }, "connecting…");
          const filter = el("input", { id: "filter", type: "search", placeholder: "filter: text, or axis=value …", oninput: (event) => { state.filter = event.target.value; drawTable(); } });
          const parts = {
            summary: el("p", { id: "summary" }), history: el("div"), pareto: el("div"), parallel: el("div"), importance: el("div", { id: "importance" }),
            table: el("div", { id: "trial-table" }), trial: el("div", { id: "trial" }),
          };
          view().replaceChildren(
            el("h2", {}, `Study ${data.study.name} `, live),
            parts.summary,
            el("div", { class: "grid" },
              el("div", { class: "card" }, el("h3", {}, "Objective by trial, with the best so far"), parts.history),
              el("div", { class: "card" }, el("h3", {}, "Score against calls per query: the Pareto front"), parts.pareto)),
            el("div", { class: "card", style: "margin-top:16px" }, el("h3", {}, "Parallel coordinates (the top tenth by objective in green)"), parts.parallel),
            el("div", { class: "card", style: "margin-top:16px" }, el("h3", {}, "Parameter importance"), parts.importance),
            el("h2", {}, "Trials ", filter), parts.table, parts.trial,
          );

          function rows() { return [...trials.values()]; }

          function drawCharts() {
            const all = rows();
            const scored = all.filter(isScored).sort((a, b) => a.number - b.number);
            let best = -Infinity;
            const bestLine = scored.map((t) => { best = Math.max(best, t.objective); return { x: t.number, y: best }; });
            const bestValue = scored.length ? Math.max(...scored.map((t) => t.objective)) : null;
            parts.summary.textContent = `${all.length} trials (${all.filter((t) => t.status === "failed").length} failed); best objective ${fixed(bestValue)}; space ${state.study.spacePath}`;
            parts.history.replaceChildren(chart({
              id: "history", xLabel: "trial", yLabel: "objective", points: scored.map((t) => ({ x: t.number, y: t.objective, trial: t })),
              lines: [{ class: "best-line", points: bestLine }], pointClass: (p) => "point" + (p.y === bestValue ? " best" : ""),
              title: (p) => `trial ${p.trial.number}: ${fixed(p.y)}`,
            }));
            const { points, front } = paretoFront(all);
            const onFront = new Set(front.map((p) => p.trial.identity));
            parts.pareto.replaceChildren(chart({
              id: "pareto", xLabel: "calls per query (static worst case)", yLabel: "score", points,
              lines: [{ class: "front-line", points: front }], pointClass: (p) => "point" + (onFront.has(p.trial.identity) ? " front" : ""),
              title: (p) => `trial ${p.trial.number}: score ${fixed(p.y)}, ${p.x} calls`,
            }));
            parts.parallel.replaceChildren(parallelCoordinates(state.axes, all));
            parts.importance.replaceChildren(
              state.importance.length
                ? el("table", { class: "bars" }, state.importance.map((s) => el("tr", { "data-axis": s.axis },
                    el("td", {}, s.axis), el("td", { style: "width:60%" }, el("div", { class: "bar", style: `width:${(s.share * 100).toFixed(1)}%` })),
                    el("td", { class: "num share" }, `${(s.share * 100).toFixed(1)}%`))))
                : el("p", { class: "muted" }, "Too few scored trials, or an objective that never varies."),
              el("p", { class: "note" }, `Method: ${data.importanceMethod}.`));
          }

          function matches(trial) {
            const words = state.filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
            const text = [trial.number, trial.status, trial.phase, ...Object.entries(trial.configuration).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
            return words.every((word) => text.includes(word));
          }

          function drawTable() {
            const columns = [
              { key: "number", label: "#", value: (t) => t.number, numeric: true },
              { key: "status", label: "Status", value: (t) => t.status },
              { key: "phase", label: "Phase", value: (t) => t.phase },
              { key: "fidelity", label: "Items", value: (t) => t.fidelity, numeric: true },
              { key: "score", label: "Score", value: (t) => t.score, text: (t) => fixed(t.score), numeric: true },
              { key: "objective", label: "Objective", value: (t) => t.objective, text: (t) => fixed(t.objective), numeric: true },
              { key: "staticCalls", label: "Calls/query", value: (t) => t.staticCalls, numeric: true },
              { key: "issuedCalls", label: "Calls sent", value: (t) => t.issuedCalls, numeric: true },
              { key: "usd", label: "USD", value: (t) => t.usd, text: (t) => usd(t.usd), numeric: true },
            ].concat(state.axes.map((axis) => ({ key: "axis:" + axis, label: axis, value: (t) => t.configuration[axis] })));
            const shown = rows().filter(matches);
            // A study of thousands of trials: the table draws the first rows in the chosen order, more on request.
            const more = shown.length > state.limit
              ? el("button", { id: "more", onclick: () => { state.limit += 1000; drawTable(); } }, `Show ${Math.min(1000, shown.length - state.limit)} more`) : null;
            parts.table.replaceChildren(
              el("p", { class: "note", id: "shown" }, `${shown.length} of ${trials.size} trials shown`),
              table({
                id: "trials", columns, rows: shown, limit: state.limit, sort: state.sort,
                onSort: (key) => { state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 }; drawTable(); },
                onRow: (t) => { state.selected = t.identity; drawTable(); openTrial(t); },
                selected: (t) => t.identity === state.selected,
              }),
              more);
          }

          async function openTrial(trial) {
            const detail = await api(`/api/studies/${encodeURIComponent(id)}/trials/${trial.number}`);
            parts.trial.replaceChildren(
              el("h3", {}, `Trial ${detail.trial.number}`),
              el("p", { class: "muted" }, `${detail.trial.status}, ${detail.trial.phase} on ${detail.trial.fidelity} items; score ${fixed(detail.trial.score)}, objective ${fixed(detail.trial.objective)}`),
              detail.trial.error ? el("p", { class: "error" }, detail.trial.error) : null,
              el("h3", {}, "Configuration"), el("pre", { id: "trial-yaml" }, detail.yaml),
              el("h3", {}, "Items"),
              table({ id: "trial-items", columns: [{ key: "id", label: "Item", value: (i) => i.id }, { key: "score", label: "Score", value: (i) => i.score, text: (i) => fixed(i.score), numeric: true }], rows: detail.itemScores }));
            parts.trial.scrollIntoView({ block: "nearest" });
          }

          drawCharts();
          drawTable();
          const since = Math.max(-1, ...rows().map((t) => t.finishedAt));
          if (liveSource) liveSource.close();
          liveSource = new EventSource(`/api/studies/${encodeURIComponent(id)}/events?since=${since}`);
          liveSource.onopen = () => { live.className = "live"; live.textContent = "live"; };
          liveSource.onerror = () => { live.className = "live off"; live.textContent = "reconnecting…"; };
          liveSource.addEventListener("trials", (event) => {
            const update = JSON.parse(event.data);
            for (const t of update.trials) trials.set(t.identity, t);
            state.importance = update.importance;
            state.study = update.study;
            state.axes = [...new Set([...state.axes, ...update.trials.flatMap((t) => Object.keys(t.configuration))])].sort();
            state.updates += 1;
            live.textContent = `live · ${state.updates} update${state.updates === 1 ? "" : "s"}`;
            drawCharts();
            drawTable();
          });
        }

        // ---- A run: its items ----
        async function renderRun(id) {
          const data = await api(`/api/runs/${encodeURIComponent(id)}`);
          const state = { sort: { key: "id", dir: 1 } };
          const holder = el("div");
          const draw = () => holder.replaceChildren(table({
            id: "items",
            columns: [
              { key: "id", label: "Item", value: (i) => i.id },
              { key: "score", label: "Score", value: (i) => i.score, text: (i) => fixed(i.score), numeric: true },
              { key: "answer", label: "Answer", value: (i) => i.answer ?? i.failure, text: (i) => i.answer !== null && i.answer !== undefined ? i.answer.slice(0, 160) : el("span", { class: "error" }, i.failure) },
              { key: "calls", label: "Calls", value: (i) => i.calls, numeric: true },
              { key: "cacheHits", label: "Cache hits", value: (i) => i.cacheHits, numeric: true },
              { key: "usd", label: "USD", value: (i) => i.usd, text: (i) => usd(i.usd), numeric: true },
              { key: "seconds", label: "Seconds", value: (i) => i.seconds, text: (i) => fixed(i.seconds, 2), numeric: true },
            ],
            rows: data.items, sort: state.sort,
            onSort: (key) => { state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 }; draw(); },
            onRow: (i) => { location.hash = `#/run/${encodeURIComponent(id)}/item/${encodeURIComponent(i.id)}`; },
          }));
          draw();
          const interval = data.interval ? ` (95% ${data.intervalMethod} interval ${fixed(data.interval[0])}–${fixed(data.interval[1])})` : "";
          view().replaceChildren(
            el("h2", {}, `Run of ${data.run.pipelinePath}`),
            el("p", { id: "run-summary" }, `${data.run.finished} of ${data.run.items} items on ${data.run.datasetPath}, scored ${data.run.scorer}: mean ${fixed(data.mean)}${interval}`),
            el("details", {}, el("summary", {}, "Pipeline"), el("pre", {}, data.run.pipelineYAML)),
            el("div", { class: "grid" },
              el("div", { class: "card" }, el("h3", {}, "Accuracy against the calls each item took"), callsAccuracyChart(data.callsAccuracy)),
              data.coverage ? el("div", { class: "card" }, el("h3", {}, "What the samples were worth: coverage and the votes at k"), coverageChart(data.coverage)) : null),
            el("h3", {}, "Items"), holder);
        }

        // One point per number of calls: the items that took that many, and their mean score (the point's size says how many).
        function callsAccuracyChart(groups) {
          const root = chart({
            id: "calls-accuracy", xLabel: "calls the item took", yLabel: "mean score", integerX: true, xPad: 0.5, yDomain: [0, 1],
            points: groups.map((g) => ({ x: g.calls, y: g.meanScore, group: g })),
            title: (p) => `${p.group.items} item${p.group.items === 1 ? "" : "s"} took ${p.group.calls} calls: mean score ${fixed(p.group.meanScore)}`,
          });
          const most = Math.max(1, ...groups.map((g) => g.items));
          root.querySelectorAll("circle").forEach((circle, index) => circle.setAttribute("r", (3 + 7 * Math.sqrt(groups[index].items / most)).toFixed(1)));
          return root;
        }

        // pass@k above the votes is what a better selector could still win; a vote flat in k says more samples will not pay.
        function coverageChart(curve) {
          const series = [
            ["pass@k (any of k right)", "passAtK"], ["majority vote", "majorityAtK"], ["confidence-weighted vote", "weightedAtK"],
            ["vote among the verified", "verifiedAtK"], ["wrong let through", "wrongLetThroughAtK"],
          ].filter(([, key]) => curve.points.some((p) => p[key] !== null && p[key] !== undefined))
            .map(([name, key], index) => ({ name, key, color: palette[index % palette.length] }));
          const lines = series.map((s) => ({ name: s.key, color: s.color, points: curve.points.filter((p) => p[s.key] !== null && p[s.key] !== undefined).map((p) => ({ x: p.k, y: p[s.key] })) }));
          const points = series.flatMap((s, index) => lines[index].points.map((p) => ({ ...p, series: s })));
          const root = chart({ id: "coverage", xLabel: "samples drawn (k)", yLabel: "share of items", points, lines, integerX: true, title: (p) => `${p.series.name} at k = ${p.x}: ${fixed(p.y)}` });
          root.querySelectorAll("circle").forEach((circle, index) => { circle.style.fill = points[index].series.color; circle.setAttribute("r", 3); circle.setAttribute("data-series", points[index].series.key); });
          const recommendation = curve.recommendation
            ? `The majority vote is worth k = ${curve.recommendation.k} (${(curve.recommendation.agreement * 100).toFixed(0)}% of bootstrap resamples agree): ${fixed(curve.recommendation.accuracy)} accuracy, ${fixed(curve.recommendation.gainPerExtraCall, 4)} gained per extra call.`
            : "";
          return el("div", {}, root,
            el("p", { class: "legend" }, series.map((s) => el("span", {}, el("i", { style: `background:${s.color}` }), s.name))),
            el("p", { class: "note", id: "coverage-note" }, `${curve.items} items with at least two samples; measured from the samples the run drew, no extra calls. ${recommendation}`));
        }

        // ---- One item: layers and the calls in time ----
        // Calls in time: a row per model, and within it a lane per call running at once (samples overlap).
        function timeline(spans) {
          const width = 860, laneHeight = 16, margin = { left: 150, right: 16, top: 8, bottom: 34 };
          const models = [...new Set(spans.map((s) => s.model))];
          const placed = [], rowTop = {};
          let top = margin.top;
          for (const model of models) {
            const ends = [];
            for (const span of spans.filter((s) => s.model === model).sort((a, b) => a.start - b.start)) {
              let lane = ends.findIndex((end) => end <= span.start);
              if (lane < 0) { lane = ends.length; ends.push(0); }
              ends[lane] = span.end;
              placed.push({ span, y: top + lane * laneHeight });
            }
            rowTop[model] = [top, Math.max(1, ends.length) * laneHeight];
            top += Math.max(1, ends.length) * laneHeight + 6;
          }
          const height = Math.max(top, margin.top + 30) + margin.bottom;
          const root = svg("svg", { id: "timeline", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "calls in time" });
          root.append(svg("defs", {}, svg("pattern", { id: "cancelled", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
            svg("rect", { width: 6, height: 6, fill: "#f6d5d5" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d64545", "stroke-width": 2 }))));
          if (spans.length === 0) { root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no calls recorded for this item")); return root; }
          const t = ticks(0, Math.max(...spans.map((s) => s.end)));
          const sx = (x) => margin.left + (x / t.high) * (width - margin.left - margin.right);
          const axis = svg("g", { class: "axis" });
          for (const v of t.values) {
            axis.append(svg("line", { x1: sx(v), x2: sx(v), y1: margin.top, y2: height - margin.bottom + 4, "stroke-opacity": 0.25 }));
            axis.append(svg("text", { class: "x-tick", x: sx(v), y: height - margin.bottom + 16, "text-anchor": "middle" }, tickLabel(v, t.step)));
          }
          axis.append(svg("text", { x: (margin.left + width) / 2, y: height - 4, "text-anchor": "middle" }, "seconds from the query's start"));
          for (const model of models) {
            const [y, h] = rowTop[model];
            axis.append(svg("text", { x: margin.left - 8, y: y + h / 2 + 4, "text-anchor": "end" }, model));
          }
          root.append(axis);
          for (const { span, y } of placed) {
            const cancelled = span.error && /cancel/i.test(span.error);
            const cls = "span" + (span.cacheHit ? " cache-hit" : "") + (cancelled ? " cancelled" : "");
            const label = `${span.operation}, layer ${span.layer + 1}${span.sample !== undefined && span.sample !== null ? `, sample ${span.sample}` : ""}: ${fixed(span.start, 2)}–${fixed(span.end, 2)} s`
              + (span.cacheHit ? ", from the cache" : "") + (span.error ? `, ${span.error}` : "");
            root.append(svg("rect", {
              class: cls, "data-layer": span.layer, x: sx(span.start), y: y + 1, width: Math.max(1.5, sx(span.end) - sx(span.start)), height: laneHeight - 2,
              fill: palette[span.layer % palette.length],
            }, svg("title", {}, label)));
          }
          return root;
        }

        async function renderItem(runID, itemID) {
          const data = await api(`/api/runs/${encodeURIComponent(runID)}/items/${encodeURIComponent(itemID)}`);
          const item = data.item;
          const layers = item.layers.map((layer) => el("div", { class: "layer", style: `border-color:${palette[layer.index % palette.length]}` },
            el("h3", {}, `Layer ${layer.index + 1}: ${layer.kind}`),
            el("p", { class: "note" }, `${layer.candidatesIn} in, ${layer.candidates.length} out; ${layer.usage.calls} calls, ${layer.usage.cacheHits} from the cache`),
            layer.notes.map((note) => el("p", { class: "note" }, note)),
            layer.candidates.map((c, index) => el("div", { class: "candidate" },
              el("div", { class: "note" }, `#${index + 1} from ${c.origin}` + (c.testsPassed !== undefined && c.testsPassed !== null ? `, ${c.testsPassed} tests passed` : "")
                + (c.confidence ? `, confidence ${fixed(Math.exp(c.confidence.meanLogprob))}` : "") + (c.truncated ? ", cut at max_tokens" : "")),
              el("pre", {}, c.text), c.critique ? el("p", { class: "note" }, "Critique: " + c.critique) : null))));
          const legend = el("p", { class: "legend" },
            [...new Set(item.timeline.map((s) => s.layer))].sort((a, b) => a - b).map((layer) => el("span", {}, el("i", { style: `background:${palette[layer % palette.length]}` }), `layer ${layer + 1}`)),
            el("span", {}, "dashed: answered from the cache"), el("span", {}, "hatched: cancelled"));
          const graph = el("div", { class: "pipeline-graph", id: "graph" }, item.layers.map((layer) =>
            el("div", { style: `border-left:4px solid ${palette[layer.index % palette.length]}` }, `${layer.index + 1}. ${layer.kind} — ${layer.candidatesIn} → ${layer.candidates.length}`)));
          view().replaceChildren(
            el("h2", {}, `Item ${item.itemID}`),
            el("p", {}, el("a", { href: `#/run/${encodeURIComponent(runID)}` }, "← the run")),
            el("p", { id: "item-summary" }, `score ${fixed(item.score)}; ${item.usage.calls} calls, ${item.usage.cacheHits} from the cache, ${usd(item.usage.usd)}`),
            item.failure ? el("p", { class: "error" }, item.failure) : el("pre", { id: "answer" }, item.answer),
            el("h3", {}, "Calls in time, one row per model"),
            el("div", { class: "timeline-wrap" }, el("div", {}, timeline(item.timeline), legend), graph),
            el("h3", {}, "Layers"), el("div", { id: "layers" }, layers));
        }

        // ---- Two runs side by side ----
        async function renderCompare(a, b) {
          const data = await api(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
          const [runA, runB] = await Promise.all([api(`/api/runs/${encodeURIComponent(a)}`), api(`/api/runs/${encodeURIComponent(b)}`)]);
          const interval = (run) => run.interval ? `${fixed(run.interval[0])}–${fixed(run.interval[1])} (${run.intervalMethod})` : "—";
          const test = data.pValue !== null && data.pValue !== undefined ? `exact McNemar p = ${data.pValue.toFixed(4)}` : "scores are graded: no McNemar test";
          view().replaceChildren(
            el("h2", {}, "Two runs side by side"),
            el("table", { id: "comparison" },
              el("tr", {}, el("th", {}, ""), el("th", {}, "A"), el("th", {}, "B")),
              el("tr", {}, el("td", {}, "Pipeline"), el("td", {}, runA.run.pipelinePath), el("td", {}, runB.run.pipelinePath)),
              el("tr", {}, el("td", {}, "Items"), el("td", {}, String(runA.items.length)), el("td", {}, String(runB.items.length))),
              el("tr", {}, el("td", {}, "Mean"), el("td", {}, fixed(runA.mean)), el("td", {}, fixed(runB.mean))),
              el("tr", {}, el("td", {}, "95% interval"), el("td", {}, interval(runA)), el("td", {}, interval(runB)))),
            el("p", { id: "paired" }, `Paired on ${data.shared} shared items: ${fixed(data.meanA)} vs ${fixed(data.meanB)}; better in A on ${data.onlyA}, in B on ${data.onlyB}; ${test}.`),
            table({ id: "pairs", columns: [
              { key: "id", label: "Item", value: (p) => p.id },
              { key: "a", label: "A", value: (p) => p.a, text: (p) => fixed(p.a), numeric: true },
              { key: "b", label: "B", value: (p) => p.b, text: (p) => fixed(p.b), numeric: true },
            ], rows: data.items.slice().sort((x, y) => natural.compare(x.id, y.id)) }));
        }

        async function route() {
          if (liveSource) { liveSource.close(); liveSource = null; }
          const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
          try {
            if (parts[0] === "study" && parts[1]) await renderStudy(parts[1]);
            else if (parts[0] === "run" && parts[1] && parts[2] === "item" && parts[3]) await renderItem(parts[1], parts[3]);
            else if (parts[0] === "run" && parts[1]) await renderRun(parts[1]);
            else if (parts[0] === "compare" && parts[1] && parts[2]) await renderCompare(parts[1], parts[2]);
            else await renderHome();
            document.body.dataset.ready = location.hash || "#/";
          } catch (error) {
            view().replaceChildren(el("p", { class: "error" }, String(error.message || error)));
            document.body.dataset.ready = "error";
          }
        }

        window.addEventListener("hashchange", route);
        api("/api/overview").then(setStores).catch(() => {});
        route();
        """#
}
