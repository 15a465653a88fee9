"""Load a report in headless Chromium and check every image decoded and
every audio player found its file.

A copy of ``index.html`` with a small script is written beside it (so the
relative links resolve the same way), Chromium dumps the DOM once the page
has loaded, and the script's verdict is read back from it. The report itself
stays script-free.

    python -m training.explore.render_check REPORT_DIR    (exit 0: all good)
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHECK_PAGE = ".render-check.html"
RESULT_ID = "render-check"

#: Runs after the load event (all images fetched and decoded, or failed);
#: asks each <audio> for its metadata, then writes the verdict into the DOM.
SCRIPT = """<script>
window.addEventListener('load', async () => {
  const imgs = Array.from(document.images);
  const players = Array.from(document.querySelectorAll('audio'));
  const audio = await Promise.all(players.map(a => new Promise(done => {
    a.addEventListener('loadedmetadata', () => done(a.duration > 0), {once: true});
    a.addEventListener('error', () => done(false), {once: true});
    setTimeout(() => done(null), 10000);
    a.preload = 'metadata';
    a.load();
  })));
  const out = document.createElement('pre');
  out.id = '%s';
  out.textContent = JSON.stringify({
    images: imgs.map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0,
                           i.naturalWidth, i.naturalHeight]),
    audio: players.map((a, k) => [a.getAttribute('src'), audio[k]]),
  });
  document.body.appendChild(out);
});
</script>""" % RESULT_ID


@dataclass
class RenderResult:
    """What the browser saw: ``(src, decoded, width, height)`` per image and
    ``(src, playable)`` per audio player (None: no answer in time)."""

    images: list[tuple[str, bool, int, int]]
    audio: list[tuple[str, bool | None]]

    @property
    def broken_images(self) -> list[str]:
        return [src for src, ok, _, _ in self.images if not ok]

    @property
    def broken_audio(self) -> list[str]:
        return [src for src, ok in self.audio if ok is False]

    @property
    def ok(self) -> bool:
        return bool(self.images) and not self.broken_images and not self.broken_audio


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def render(report_dir: str | Path, browser: str | None = None,
           timeout_s: float = 120.0) -> RenderResult:
    """Load ``report_dir/index.html`` in headless Chromium.

    Raises:
        FileNotFoundError: no index.html, or no browser.
        RuntimeError: the browser failed or the page never reported.
    """
    report_dir = Path(report_dir).resolve()
    index = report_dir / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"{index}: no report here")
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError(f"no headless browser found (tried {', '.join(BROWSERS)}; "
                                f"Debian: apt-get install chromium)")
    page = report_dir / CHECK_PAGE
    page.write_text(index.read_text(encoding="utf-8").replace("</body>", SCRIPT + "</body>"),
                    encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="kwsapp-chromium-") as profile:
            proc = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--mute-audio",
                 f"--user-data-dir={profile}", "--virtual-time-budget=30000",
                 "--dump-dom", page.as_uri()],
                capture_output=True, text=True, timeout=timeout_s, check=False)
    finally:
        page.unlink(missing_ok=True)
    match = re.search(rf'<pre id="{RESULT_ID}">(.*?)</pre>', proc.stdout, re.S)
    if not match:
        raise RuntimeError(f"{browser} exited {proc.returncode} without the page's verdict; "
                           f"stderr: {proc.stderr.strip()[-500:]}")
    data = json.loads(html.unescape(match.group(1)))
    return RenderResult([tuple(i) for i in data["images"]], [tuple(a) for a in data["audio"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", help="folder with index.html")
    args = parser.parse_args(argv)
    try:
        result = render(args.report_dir)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"render-check: {exc}", file=sys.stderr)
        return 2
    unanswered = sum(ok is None for _, ok in result.audio)
    loaded = len(result.audio) - len(result.broken_audio) - unanswered
    # Headless Chromium's virtual clock may run out before a player reads its
    # file: such a player is unchecked, not broken (a missing file errors at once).
    print(f"render-check: {len(result.images) - len(result.broken_images)}/{len(result.images)} "
          f"images decoded; audio players: {loaded} loaded, {len(result.broken_audio)} broken, "
          f"{unanswered} not checked in time")
    for src in result.broken_images:
        print(f"  image not decoded: {src}", file=sys.stderr)
    for src in result.broken_audio:
        print(f"  audio not loaded: {src}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
