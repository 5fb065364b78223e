"""The CPU Dockerfile, its CUDA sibling Dockerfile.gpu and the Makefile install the same torch,
torchvision and Python, with the same steps: a change to one that the others miss fails here."""

from __future__ import annotations

import re
import tomllib

from tests.support.paths import ROOT


def instructions(name: str) -> list[str]:
    """The file's instructions, continuation lines joined and comments dropped."""
    text = (ROOT / name).read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def torch_install(steps: list[str]) -> str:
    (install,) = [step for step in steps if step.startswith("RUN pip install torch==")]
    return install


def pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"\b(torch|torchvision)==([\w.+]+)", text))


def makefile_pins() -> dict[str, str]:
    (line,) = re.findall(r"^TORCH_PINS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    return pins(line)


def test_both_images_install_the_makefiles_torch_and_torchvision() -> None:
    expected = makefile_pins()
    assert set(expected) == {"torch", "torchvision"}
    cpu, gpu = instructions("Dockerfile"), instructions("Dockerfile.gpu")
    assert pins(torch_install(cpu)) == expected
    assert "download.pytorch.org/whl/cpu" in torch_install(cpu)
    assert pins(torch_install(gpu)) == expected
    # The CUDA image starts from PyTorch's own image of that torch.
    (base,) = [step for step in gpu if step.startswith("FROM ")]
    assert re.fullmatch(r"FROM pytorch/pytorch:([\d.]+)-\$\{CUDA\}-runtime", base)
    assert base.split(":")[1].split("-")[0] == expected["torch"]


def test_both_images_run_the_same_python_the_project_allows() -> None:
    cpu, gpu = instructions("Dockerfile"), instructions("Dockerfile.gpu")
    (cpu_base,) = [step for step in cpu if step.startswith("FROM ")]
    cpu_python = re.fullmatch(r"FROM python:(\d+)\.(\d+)-slim", cpu_base)
    assert cpu_python
    version = (int(cpu_python[1]), int(cpu_python[2]))
    # PyTorch's image brings its own Python: the GPU build checks it is the CPU image's.
    assert f"sys.version_info[:2] == {version}" in torch_install(gpu)
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.fullmatch(r">=(\d+)\.(\d+)", required)
    assert low and version >= (int(low[1]), int(low[2]))


def test_every_step_but_the_base_and_the_torch_install_is_the_same() -> None:
    def rest(name: str) -> list[str]:
        steps = instructions(name)
        start = next(i for i, step in enumerate(steps) if step.startswith("WORKDIR"))
        return [step for step in steps[start:] if step != torch_install(steps)]

    assert rest("Dockerfile.gpu") == rest("Dockerfile")


def test_the_images_copy_every_package_and_install_as_the_makefile_does() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    makefile = (ROOT / "Makefile").read_text()
    (make_extras,) = re.findall(r"pip install --quiet -e '\.\[([\w,]+)\]'", makefile)
    assert "python -m app prepare-data" in makefile.replace("$(PY)", "python")
    for name in ("Dockerfile", "Dockerfile.gpu"):
        steps = instructions(name)
        for package in packages:  # a package left out is missing from the image's install
            assert f"COPY {package} ./{package}" in steps, (name, package)
        (extras,) = [re.findall(r"-e '\.\[([\w,]+)\]'", s) for s in steps if " -e " in s]
        assert set(extras[0].split(",")) <= set(make_extras.split(","))
        assert "cluster" in extras[0].split(",")  # the image can serve a Ray cluster, as make's
        assert "python -m app prepare-data" in steps[-1]
