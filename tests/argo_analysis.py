"""How Argo Rollouts judges a web metric's answer, for tests: its JSONPath, then its conditions.

Argo reads the response with Kubernetes' JSONPath (``{$}``, ``{$.a.b}``) into ``result``
and evaluates ``successCondition`` / ``failureCondition`` (expr-lang): a measurement is
Successful when the success condition holds, Failed when the failure condition does, and
Inconclusive when neither (metricproviders/webmetric, utils/evaluate in argo-rollouts).
The conditions headroom renders use the part of expr that reads the same in Python
(``result.verdict == "PASS"``, ``&&``, ``||``, ``!``); this evaluates that part, refusing
anything else, so a test reads a run's JSON exactly as the rendered template would.
"""

from __future__ import annotations

import ast
import re
from typing import Any

_PATH = re.compile(r"\{\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_ALLOWED = (ast.Expression, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Not, ast.And, ast.Or, ast.Attribute, ast.Name,
            ast.Constant, ast.Load, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def json_path(document: Any, path: str) -> Any:
    match = _PATH.fullmatch(path)
    assert match, f"unsupported JSONPath {path!r}"
    for key in filter(None, match.group(1).split(".")):
        document = document[key]
    return document


def condition(expression: str, result: Any) -> bool:
    python = re.sub(r"!(?!=)", " not ", expression.replace("&&", " and ").replace("||", " or "))
    tree = ast.parse(python, mode="eval")
    for node in ast.walk(tree):
        assert isinstance(node, _ALLOWED), f"{expression!r}: {type(node).__name__} is outside the supported subset"
        assert not isinstance(node, ast.Name) or node.id == "result", f"{expression!r}: only `result` is defined"
    return bool(_evaluate(tree.body, result))


def _evaluate(node: ast.AST, result: Any) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return result
    if isinstance(node, ast.Attribute):
        return _evaluate(node.value, result)[node.attr]
    if isinstance(node, ast.UnaryOp):
        return not _evaluate(node.operand, result)
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(value, result) for value in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    assert isinstance(node, ast.Compare) and len(node.ops) == 1
    left, right = _evaluate(node.left, result), _evaluate(node.comparators[0], result)
    operations = {ast.Eq: left == right, ast.NotEq: left != right}
    if type(node.ops[0]) in operations:
        return operations[type(node.ops[0])]
    return {ast.Lt: lambda: left < right, ast.LtE: lambda: left <= right, ast.Gt: lambda: left > right,
            ast.GtE: lambda: left >= right}[type(node.ops[0])]()


def measurement(metric: dict[str, Any], body: Any) -> str:
    """The phase Argo gives one web measurement of ``metric`` (as rendered) whose response was ``body``."""
    web = metric["provider"]["web"]
    result = json_path(body, web.get("jsonPath") or "{$}")
    success_text, failure_text = metric.get("successCondition", ""), metric.get("failureCondition", "")
    success = bool(success_text) and condition(success_text, result)
    failure = bool(failure_text) and condition(failure_text, result)
    # utils/evaluate.EvaluateResult: a missing condition is the other one's negation; failure wins.
    if not success_text and not failure_text:
        return "Successful"
    if success_text and not failure_text:
        failure = not success
    if failure_text and not success_text:
        success = not failure
    if failure:
        return "Failed"
    return "Successful" if success else "Inconclusive"
