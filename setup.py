"""Packaging beside setup.cfg: the top-level pipelines/ folder ships inside the wheel as
rethinking/pipelines/ (setup.cfg cannot map a folder outside the package to a package name)."""

from setuptools import find_packages, setup

PIPELINES = {"rethinking.pipelines": "pipelines", "rethinking.pipelines.laptop": "pipelines/laptop"}

setup(
    packages=[*find_packages(include=["rethinking", "rethinking.*"]), *PIPELINES],
    package_dir=PIPELINES,
    package_data={"rethinking.pipelines": ["*.toml", "README.md"], "rethinking.pipelines.laptop": ["*.toml", "*.csv"],
                  "rethinking.reports": ["paper.toml"]},
)
