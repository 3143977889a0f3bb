"""The Helsinki Design System's CSS the pages load is hds-core as pinned, bundled by deploy/hds.sh, licence beside."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_hds_bundle_is_what_the_pinned_hds_core_gives():
    result = subprocess.run([str(ROOT / "deploy" / "hds.sh"), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    bundle = (ROOT / "services" / "visits" / "static" / "hds" / "hds.min.css").read_text()
    assert bundle.startswith("/* hds-core 5.2.2 (MIT")
    assert "MIT License" in (ROOT / "services" / "visits" / "static" / "hds" / "LICENSE").read_text()
