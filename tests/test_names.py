"""NAME[:PARAM] parsing is shared by --act and --init: same rules, same messages."""

from __future__ import annotations

import pytest

from actstat.activations import get_activation
from actstat.errors import ConfigError, UnknownNameError
from actstat.initializers import get_initializer


@pytest.mark.parametrize(
    ("lookup", "kind", "with_param", "without_param"),
    [(get_activation, "activation", "leaky_relu", "relu"), (get_initializer, "init", "normal", "he")],
)
def test_same_rules_for_both_registries(lookup, kind, with_param, without_param) -> None:
    with pytest.raises(ConfigError, match=f"missing parameter after ':' for {kind} '{with_param}'"):
        lookup(f"{with_param}:")
    with pytest.raises(ConfigError, match=f"invalid parameter 'abc' for {kind} '{with_param}'"):
        lookup(f"{with_param}:abc")
    with pytest.raises(ConfigError, match="must be finite"):
        lookup(f"{with_param}:inf")
    with pytest.raises(ConfigError, match=f"{kind} '{without_param}' takes no parameter"):
        lookup(f"{without_param}:0.5")
    with pytest.raises(UnknownNameError, match=f"unknown {kind} 'nope'"):
        lookup("nope")
    # case and surrounding spaces do not matter
    assert lookup(f"  {with_param.upper()}:0.1 ").spec == f"{with_param}:0.1"
