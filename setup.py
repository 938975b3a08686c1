"""Packaging for tr069client (the version is read from tr069client/__init__.py, not imported)."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _version():
    with open(os.path.join(HERE, "tr069client", "__init__.py"), encoding="utf-8") as f:
        match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', f.read(), re.M)
    if not match:
        raise RuntimeError("no __version__ in tr069client/__init__.py")
    return match.group(1)


def _long_description():
    path = os.path.join(HERE, "README.md")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


setup(
    name="tr069client",
    version=_version(),
    description="A TR-069 (CWMP) CPE client for home routers, in pure Python",
    long_description=_long_description(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["tr069client", "tr069client.*"]),
    package_data={"tr069client": ["*.json"]},
    install_requires=["defusedxml"],
    python_requires=">=3.8",
    entry_points={"console_scripts": ["tr069client=tr069client.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Networking",
    ],
)
