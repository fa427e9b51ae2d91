// The studio's one page, served as /: the script draws every view into <main>.
extension StudioAssets {
    static let page = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Strata Studio</title>
        <link rel="stylesheet" href="/studio.css">
        <script src="/studio.js" defer></script>
        </head>
        <body>
        <header>
          <h1><a href="#/">Strata Studio</a></h1>
          <nav><a href="#/">Studies and runs</a></nav>
          <span class="stores" id="stores"></span>
        </header>
        <main id="view"><p class="muted">Loading…</p></main>
        </body>
        </html>
        """#
}
