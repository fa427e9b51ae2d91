/// What the studio's pages are made of, compiled into the binary: the studio
/// needs no file beside it and fetches nothing from elsewhere (no CDN). The
/// script is plain JavaScript that draws every chart as SVG.
enum StudioAssets {}
