"""Every config section either applies on reload or needs a restart, and the README says
which."""

from __future__ import annotations

from pathlib import Path

from gateway.config.model import GatewayConfig, HttpConfig
from gateway.config.reload_policy import APPLIED_ON_RELOAD, RESTART_NEEDED, restart_problems

README = Path(__file__).resolve().parents[2] / "README.md"


def _options() -> set[str]:
    """Top-level sections, and http's options one by one (they are split)."""
    sections = set(GatewayConfig.model_fields) - {"http"}
    return sections | {f"http.{name}" for name in HttpConfig.model_fields}


def test_every_section_has_chosen() -> None:
    assert not APPLIED_ON_RELOAD.keys() & RESTART_NEEDED.keys()
    assert APPLIED_ON_RELOAD.keys() | RESTART_NEEDED.keys() == _options()


def test_readme_names_each_section_and_its_choice() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("A reload applies", 1)[1].split("Operator actions", 1)[0]
    restart = section.split("Read once at start", 1)[1]
    for name in RESTART_NEEDED:
        assert f"`{name}`" in restart, name
    for name in APPLIED_ON_RELOAD:
        assert f"`{name}`" in section.split("Read once at start", 1)[0], name


def test_a_changed_listen_address_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("http:\n  listen: 127.0.0.1:9090\n")
    old = GatewayConfig()
    new = GatewayConfig.model_validate({"http": {"listen": "127.0.0.1:9090"}})
    assert restart_problems(old, new, path) == [
        f"{path}:2: http.listen: changed, but the HTTP listener is bound at start: "
        "restart to apply it"
    ]
    assert restart_problems(old, GatewayConfig(), path) == []
