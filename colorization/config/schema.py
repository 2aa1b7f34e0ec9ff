"""Config key declarations: each key's default with its type and allowed values, so that a config is checked
when it loads (one line naming the key) instead of failing deep inside torch."""
import ast
import math
import operator
import re

from yacs.config import CfgNode

from ..errors import UserError


def _literal(text):
    # yacs' reading of a string value, kept because configs rely on it: "(0.9, 0.99)" is a tuple, "1e-3" (a string
    # to YAML) a float; what is no Python literal stays the string.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


class Rule:
    """A key's default, the type a given value must have (`parse`) and the values it may take (`validate`)."""

    def __init__(self, default):
        self.default = default

    def describe(self):
        """The allowed values in words, completing "must be ..."."""
        raise NotImplementedError

    def convert(self, value):
        """value in this key's type; ValueError when it has another type."""
        raise NotImplementedError

    def allows(self, value):
        return True

    def bounds(self):
        """The range in words ("> 0", ">= 0 and < 1"), empty when any value of the type is allowed."""
        return ""

    def parse(self, key, value):
        """A value from a YAML file or the command line in the key's type (an int where a float is declared becomes
        that float); UserError naming the key otherwise."""
        try:
            return self.convert(value)
        except ValueError:
            raise UserError(self.message(key, value)) from None

    def validate(self, key, value):
        if not self.allows(value):
            raise UserError(self.message(key, value))

    def message(self, key, value):
        return f"config key {key} is {value!r}; must be {self.describe()}"


_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class _Number(Rule):
    kind, name, plural = None, "", ""

    def __init__(self, default=None, gt=None, ge=None, lt=None, le=None, multiple_of=None):
        super().__init__(default)
        self.limits = [(op, bound) for op, bound in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if bound is not None]
        self.multiple_of = multiple_of

    def bounds(self):
        words = [f"{op} {bound}" for op, bound in self.limits]
        if self.multiple_of:
            words.append(f"a multiple of {self.multiple_of}")
        return " and ".join(words)

    def describe(self):
        return f"{self.name} {self.bounds()}".strip()

    def convert(self, value):
        value = _literal(value) if isinstance(value, str) else value
        # bool is an int to Python, never to a user: True for a learning rate is a mistake.
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else int):
            raise ValueError(value)
        return self.kind(value)

    def allows(self, value):
        return (math.isfinite(value) and all(_COMPARE[op](value, bound) for op, bound in self.limits)
                and (not self.multiple_of or value % self.multiple_of == 0))


class Float(_Number):
    """A float key; an integer given for it (BASE_LR: 1) is taken as that float. Never NaN or infinite."""
    kind, name, plural = float, "a number", "numbers"


class Int(_Number):
    kind, name, plural = int, "an integer", "integers"


class Bool(Rule):
    def describe(self):
        return "True or False"

    def convert(self, value):
        value = _literal(value) if isinstance(value, str) else value
        if not isinstance(value, bool):
            raise ValueError(value)
        return value


class Text(Rule):
    """A string key. The value is taken as written: a path such as "2024" or "1e-3" stays a string."""
    plural = "strings"

    def __init__(self, default=None, nonempty=False, pattern=None, hint=None):
        super().__init__(default)
        self.nonempty, self.pattern, self.hint = nonempty, pattern, hint
        if nonempty:
            self.plural = "non-empty strings"

    def describe(self):
        return self.hint or ("a non-empty string" if self.nonempty else "a string")

    def convert(self, value):
        if not isinstance(value, str):
            raise ValueError(value)
        return value

    def allows(self, value):
        return bool(value or not self.nonempty) and (self.pattern is None or bool(re.fullmatch(self.pattern, value)))


class Choice(Text):
    def __init__(self, default, among):
        super().__init__(default, hint=f"one of {', '.join(among)}")
        self.among = tuple(among)

    def allows(self, value):
        return value in self.among


class _Sequence(Rule):
    """A list of values (a tuple in the config), each following `item`."""

    def __init__(self, default, item, length=None, min_length=0, ascending=False):
        super().__init__(tuple(default))
        self.item, self.length, self.min_length, self.ascending = item, length, min_length, ascending

    def describe(self):
        count = f"{self.length} " if self.length else "one or more " if self.min_length == 1 else ""
        bounds = self.item.bounds()
        return (f"a list of {count}{self.item.plural}" + (f", each {bounds}" if bounds else "")
                + (", in ascending order" if self.ascending else ""))

    def convert(self, value):
        value = _literal(value) if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)):
            raise ValueError(value)
        return tuple(self.item.convert(v) for v in value)

    def allows(self, value):
        return ((self.length is None or len(value) == self.length) and len(value) >= self.min_length
                and all(self.item.allows(v) for v in value)
                and (not self.ascending or all(a <= b for a, b in zip(value, value[1:]))))


class Floats(_Sequence):
    def __init__(self, default, length=None, ascending=False, **bounds):
        super().__init__(default, Float(**bounds), length=length, ascending=ascending)


class Ints(_Sequence):
    def __init__(self, default, length=None, ascending=False, **bounds):
        super().__init__(default, Int(**bounds), length=length, ascending=ascending)


class Texts(_Sequence):
    """A list of strings, none empty; at least min_length of them (one: data set names)."""

    def __init__(self, default, min_length=1):
        super().__init__(default, Text(nonempty=True), min_length=min_length)


class Section:
    """Where defaults.py declares keys: `_C.SOLVER.BASE_LR = Float(1e-3, gt=0)`. Anything but a Rule or a
    Section is refused, so no key goes undeclared."""

    def __init__(self):
        object.__setattr__(self, "_entries", {})

    def __setattr__(self, name, value):
        if not isinstance(value, (Rule, Section)):
            raise TypeError(f"config key {name} = {value!r} needs a declaration such as Float({value!r}, gt=0), "
                            f"Int, Bool, Text, Choice, Floats, Ints or Texts")
        if name in self._entries:
            raise ValueError(f"config key {name} is declared twice")
        self._entries[name] = value

    def copy(self):
        """A copy whose sections are copies too (the rules are shared: they are never changed)."""
        twin = Section()
        for name, entry in self._entries.items():
            twin._entries[name] = entry.copy() if isinstance(entry, Section) else entry
        return twin

    def __getattr__(self, name):
        try:
            return self._entries[name]
        except KeyError:
            raise AttributeError(name) from None

    def split(self, prefix=""):
        """(the yacs tree of defaults, {dotted key: Rule}); each default must pass its own rule."""
        node, rules = CfgNode(), {}
        for name, entry in self._entries.items():
            key = prefix + name
            if isinstance(entry, Section):
                node[name], inner = entry.split(key + ".")
                rules.update(inner)
            else:
                node[name], rules[key] = entry.parse(key, entry.default), entry
                entry.validate(key, node[name])
        return node, rules
