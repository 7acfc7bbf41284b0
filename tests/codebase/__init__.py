"""The source tree as a whole rather than one behaviour: imports point down the layers
with no cycles, a command loads only the libraries it needs, ruff and strict mypy pass
(tests included), and the wheel installs and runs without the source tree."""
