// The studio's one stylesheet, served as /studio.css.
extension StudioAssets {
    static let style = #"""
        :root { --ink: #1d2330; --muted: #5b6475; --line: #d8dce4; --soft: #f4f6f9; --accent: #2f6fdf; --good: #1f9d55; --bad: #d64545; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
        header { display: flex; gap: 18px; align-items: baseline; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--soft); }
        header h1 { font-size: 17px; margin: 0; }
        header a { color: var(--accent); text-decoration: none; }
        header .stores { color: var(--muted); font-size: 12px; margin-left: auto; }
        main { padding: 16px 20px 40px; max-width: 1400px; }
        h2 { font-size: 16px; margin: 22px 0 8px; }
        h3 { font-size: 14px; margin: 16px 0 6px; }
        .muted { color: var(--muted); }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: var(--soft); position: sticky; top: 0; cursor: default; user-select: none; }
        th.sortable { cursor: pointer; }
        th.sorted-asc::after { content: " ▲"; font-size: 10px; }
        th.sorted-desc::after { content: " ▼"; font-size: 10px; }
        tr.clickable { cursor: pointer; }
        tr.clickable:hover, tr.selected { background: #eef3fd; }
        td.num, th.num { text-align: right; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
        .card h3 { margin-top: 0; }
        svg { display: block; width: 100%; height: auto; }
        svg text { font-size: 11px; fill: var(--muted); }
        svg .axis line, svg .axis path { stroke: #9aa3b2; }
        svg .point { fill: var(--accent); fill-opacity: .55; }
        svg .dots { stroke: var(--accent); stroke-opacity: .45; stroke-width: 7; stroke-linecap: round; fill: none; }
        svg .point.best, svg .point.front { fill: var(--good); fill-opacity: .9; }
        svg .best-line, svg .front-line { fill: none; stroke: var(--good); stroke-width: 2; }
        svg .pc-line { fill: none; stroke: var(--accent); stroke-opacity: .25; }
        svg .pc-line.top { stroke: var(--good); stroke-opacity: .85; stroke-width: 2; }
        svg .span { stroke: #fff; stroke-width: .5; }
        svg .span.cache-hit { fill-opacity: .35; stroke: #333; stroke-dasharray: 2 2; }
        svg .span.cancelled { fill: url(#cancelled) !important; stroke: var(--bad); }
        .bar { height: 12px; background: var(--accent); border-radius: 2px; }
        .bars td { border: none; padding: 2px 6px; }
        pre { background: var(--soft); padding: 8px 10px; border-radius: 4px; overflow: auto; white-space: pre-wrap; max-height: 360px; margin: 4px 0; }
        input[type=search] { padding: 4px 8px; width: 320px; border: 1px solid var(--line); border-radius: 4px; }
        button { padding: 4px 10px; border: 1px solid var(--line); background: #fff; border-radius: 4px; cursor: pointer; }
        .live { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e6f6ec; color: var(--good); }
        .live.off { background: var(--soft); color: var(--muted); }
        .layer { border-left: 3px solid var(--accent); padding: 2px 0 2px 10px; margin: 10px 0; }
        .candidate { border: 1px solid var(--line); border-radius: 4px; margin: 6px 0; padding: 4px 8px; }
        .note { color: var(--muted); font-size: 12px; }
        .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
        .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
        .error { color: var(--bad); }
        .pipeline-graph { display: flex; flex-direction: column; gap: 6px; }
        .pipeline-graph div { border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; }
        .timeline-wrap { display: grid; grid-template-columns: 3fr 1fr; gap: 16px; }
        """#
}
