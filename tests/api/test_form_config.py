"""What the server gives the new-run form: the layout hints in the run config's JSON Schema, and
the templates (only those whose data is on this machine are usable)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.form_templates import PREPARE_HINT, form_templates
from trainer.config import run_config_schema
from trainer.data.demo import write_digits_image_folder

ESSENTIALS = ["run", "data", "model", "loss", "optimizer", "training"]


def test_every_field_has_a_known_section_and_the_essentials_come_first() -> None:
    schema = run_config_schema()
    sections = [s["id"] for s in schema["ui"]["sections"]]
    assert sections[: len(ESSENTIALS)] == ESSENTIALS and sections[-1] == "advanced"
    placed = {
        name: prop.get("ui", {}).get("section") for name, prop in schema["properties"].items()
    }
    assert {placed[f] for f in ("batch_size", "max_epochs", "device")} == {"training"}
    for switch in ("num_workers", "pin_memory", "cache_budget_mb", "amp", "compile"):
        assert placed[switch] in (None, "advanced"), switch  # no hint: Advanced
    assert {s for s in placed.values() if s is not None} <= set(sections)


def test_image_folder_templates_wait_for_the_demo_data(settings: Settings) -> None:
    usable = {t["id"]: t["available"] for t in form_templates(settings.allowed_data_roots)}
    assert usable == {
        "digits-mlp": True,
        "imagefolder-cnn": False,
        "cifar-resnet18": False,
        "finetune-param-groups": True,
    }
    missing = [t for t in form_templates(settings.allowed_data_roots) if not t["available"]]
    assert all(t["reason"] == PREPARE_HINT for t in missing)


def test_every_template_is_a_run_the_api_accepts(settings: Settings, client: TestClient) -> None:
    write_digits_image_folder(settings.allowed_data_roots[0], per_class=5)
    templates = form_templates(settings.allowed_data_roots)
    assert all(t["available"] for t in templates)
    for template in templates:
        response = client.post("/api/runs", json=template["config"])
        assert response.status_code == 201, (template["id"], response.text)
        assert response.json()["config"] == template["config"]
    cifar = next(t["config"] for t in templates if t["id"] == "cifar-resnet18")
    assert cifar["data"]["image_size"] == 32 and not cifar["data"]["grayscale"]  # 3x32x32
    page = client.get("/").text
    assert 'id="form-templates"' in page and "cifar-shaped-resnet18" in page
