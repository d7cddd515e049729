import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def vllm_required() -> bool:
    return os.environ.get("EVALKIT_REQUIRE_VLLM") == "1"


@pytest.fixture
def evalkit_env(tmp_path):
    """Environment for running the evalkit CLI in a subprocess, with a private cache and no API keys."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["EVALKIT_CACHE"] = str(tmp_path / "cache.sqlite")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def evalkit_exe():
    exe = shutil.which("evalkit", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "evalkit"]


@pytest.fixture(scope="session")
def bubblewrap():
    """The sandbox tests need bubblewrap (installed by `make setup`), never a weaker isolation."""
    from evalkit import sandbox

    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: `make setup` installs it (apt-get install bubblewrap)")
    assert sandbox.isolation() == "bwrap"
