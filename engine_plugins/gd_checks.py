"""Checks of the Godot addon's GDScript that Godot's own analyser makes and gdlint does not.

No Godot runs in CI, and ``gdlint`` checks style only: a script with two functions of one name, a
local ``var x := some_dictionary["k"]`` (no type to infer) or a preload cycle lints clean and
then fails to load in the engine, taking every script that preloads it down with it. This module
parses each script with gdtoolkit's parser and reports, per script:

* **errors** (the script does not load): a member declared twice in one class (functions, variables,
  constants, signals, enums, inner classes), ``:=`` inferring from an expression of no static type
  (a subscript of, ``.get()`` on or ``.call()`` of an untyped ``Dictionary``/``Array``/``Variant``),
  and a ``preload`` cycle between addon scripts;
* **warnings** (Godot's defaults show them; projects that treat warnings as errors fail):
  ``SHADOWED_VARIABLE`` (a local, parameter, loop or match variable named like a member of its
  class), ``SHADOWED_VARIABLE_BASE_CLASS`` (named like a property, signal or method of the native
  base class) and ``SHADOWED_GLOBAL_IDENTIFIER`` (named like a built-in function or type).

The native names are the members of the base classes the addon extends, from the Godot 4.3 class
reference (``doc/classes/<Class>.xml`` of godotengine/godot): every property and signal, and the
methods whose names a local could plausibly take. The built-in names are the utility functions of
``@GlobalScope`` and ``@GDScript`` and the built-in types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lark import Token, Tree

__all__ = ["Finding", "check_scripts"]

_NATIVE_PARENT = {
    "Object": None,
    "RefCounted": "Object",
    "Resource": "RefCounted",
    "Node": "Object",
    "Node3D": "Node",
    "SkeletonModifier3D": "Node3D",
    "CanvasItem": "Node",
    "Control": "CanvasItem",
    "Container": "Control",
    "BoxContainer": "Container",
    "VBoxContainer": "BoxContainer",
    "EditorPlugin": "Node",
    "SceneTree": "Object",
}
_NATIVE_MEMBERS = {
    "Object": "script get set call callv connect disconnect emit_signal free notification "
    "property_list_changed script_changed get_class is_class has_method set_meta get_meta",
    "RefCounted": "reference unreference",
    "Resource": "resource_local_to_scene resource_name resource_path resource_scene_unique_id changed "
    "setup_local_to_scene_requested duplicate emit_changed get_rid",
    "Node": "auto_translate_mode editor_description multiplayer name owner physics_interpolation_mode "
    "process_mode process_physics_priority process_priority process_thread_group "
    "process_thread_group_order process_thread_messages scene_file_path unique_name_in_owner "
    "child_entered_tree child_exiting_tree child_order_changed editor_description_changed "
    "editor_state_changed ready renamed replacing_by tree_entered tree_exited tree_exiting "
    "add_child add_sibling find_child find_children get_child get_children get_index get_node "
    "get_parent get_path get_tree get_viewport get_window is_inside_tree print_tree "
    "queue_free remove_child reparent tr translate",
    "Node3D": "basis global_basis global_position global_rotation global_rotation_degrees "
    "global_transform position quaternion rotation rotation_degrees rotation_edit_mode "
    "rotation_order scale top_level transform visibility_parent visible visibility_changed "
    "hide show look_at rotate translate orthonormalize",
    "SkeletonModifier3D": "active influence modification_processed get_skeleton",
    "CanvasItem": "clip_children light_mask material modulate self_modulate show_behind_parent "
    "texture_filter texture_repeat top_level use_parent_material visibility_layer visible "
    "y_sort_enabled z_as_relative z_index draw hidden item_rect_changed visibility_changed "
    "hide show queue_redraw",
    "Control": "anchor_bottom anchor_left anchor_right anchor_top auto_translate clip_contents "
    "custom_minimum_size focus_mode focus_neighbor_bottom focus_neighbor_left "
    "focus_neighbor_right focus_neighbor_top focus_next focus_previous global_position "
    "grow_horizontal grow_vertical layout_direction layout_mode localize_numeral_system "
    "mouse_default_cursor_shape mouse_filter mouse_force_pass_scroll_events offset_bottom "
    "offset_left offset_right offset_top pivot_offset position rotation rotation_degrees scale "
    "shortcut_context size size_flags_horizontal size_flags_stretch_ratio size_flags_vertical "
    "theme theme_type_variation tooltip_text focus_entered focus_exited gui_input "
    "minimum_size_changed mouse_entered mouse_exited resized size_flags_changed "
    "theme_changed",
    "Container": "pre_sort_children sort_children fit_child_in_rect queue_sort",
    "BoxContainer": "alignment vertical add_spacer",
    "VBoxContainer": "",
    "EditorPlugin": "main_screen_changed project_settings_changed resource_saved scene_changed scene_closed",
    "SceneTree": "",
}
_BUILTINS = set(
    """abs absf absi acos acosh angle_difference asin asinh atan atan2 atanh bezier_derivative
    bezier_interpolate bytes_to_var bytes_to_var_with_objects ceil ceilf ceili clamp clampf clampi
    cos cosh cubic_interpolate cubic_interpolate_angle cubic_interpolate_angle_in_time
    cubic_interpolate_in_time db_to_linear deg_to_rad ease error_string exp floor floorf floori fmod
    fposmod hash instance_from_id inverse_lerp is_equal_approx is_finite is_inf is_instance_id_valid
    is_instance_valid is_nan is_same is_zero_approx lerp lerp_angle lerpf linear_to_db log max maxf
    maxi min minf mini move_toward nearest_po2 pingpong posmod pow print print_rich print_verbose
    printerr printraw prints printt push_error push_warning rad_to_deg rand_from_seed randf
    randf_range randfn randi randi_range randomize remap rid_allocate_id rid_from_int64
    rotate_toward round roundf roundi seed sign signf signi sin sinh smoothstep snapped snappedf
    snappedi sqrt step_decimals str str_to_var tan tanh type_convert type_string typeof var_to_bytes
    var_to_bytes_with_objects var_to_str weakref wrap wrapf wrapi
    Color8 assert char convert dict_to_inst get_stack inst_to_dict is_instance_of len load ord
    preload print_debug print_stack range type_exists
    bool int float String Vector2 Vector2i Rect2 Rect2i Vector3 Vector3i Transform2D Vector4
    Vector4i Plane Quaternion AABB Basis Transform3D Projection Color StringName NodePath RID
    Callable Signal Dictionary Array""".split()
)
_UNTYPED = {"Dictionary", "Array", "Variant", ""}


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.kind}: {self.message}"


@dataclass
class _Class:
    name: str
    base: str
    members: dict[str, int] = field(default_factory=dict)


def _name(node: Tree | Token) -> str:
    return str(node.children[0] if isinstance(node, Tree) else node)


def _line(node: Tree | Token) -> int:
    if isinstance(node, Token):
        return node.line or 0
    for token in node.scan_values(lambda v: isinstance(v, Token)):
        return token.line or 0
    return 0


def _class_members(body: Iterable[Tree | Token], cls: _Class, path: Path, out: list[Finding]) -> None:
    def declare(name: str, line: int, what: str) -> None:
        if name in cls.members:
            out.append(Finding(path, line, "error", f"{what} {name} is declared twice in {cls.name}"))
        cls.members[name] = line

    for stmt in body:
        if not isinstance(stmt, Tree):
            continue
        kind = stmt.data
        if kind == "static_class_var_stmt":
            stmt = stmt.children[0]
            kind = stmt.data
        if kind == "static_func_def":
            stmt = stmt.children[0]
            kind = stmt.data
        if kind == "func_def":
            header = stmt.children[0]
            declare(str(header.children[0]), _line(header), "function")
        elif kind == "class_var_stmt":
            declare(str(stmt.children[0].children[0]), _line(stmt), "variable")
        elif kind == "const_stmt":
            declare(str(stmt.children[0].children[0]), _line(stmt), "constant")
        elif kind == "signal_stmt":
            declare(str(stmt.children[0]), _line(stmt), "signal")
        elif kind == "enum_stmt":
            enum = stmt.children[0]
            if enum.data == "enum_named":
                declare(str(enum.children[0]), _line(stmt), "enum")
            for element in enum.find_data("enum_element"):
                if enum.data != "enum_named":
                    declare(str(element.children[0]), _line(element), "enum value")
        elif kind == "class_def":
            declare(str(stmt.children[0]), _line(stmt), "class")


def _native_chain(base: str) -> Iterator[tuple[str, set[str]]]:
    current: str | None = base
    while current is not None and current in _NATIVE_PARENT:
        yield current, set(_NATIVE_MEMBERS[current].split())
        current = _NATIVE_PARENT[current]


def _locals(func: Tree) -> Iterator[tuple[str, Tree | Token, Tree | None]]:
    """(name, node, value expression or None) of every name a function declares."""
    header = func.children[0]
    for arg in header.find_data("func_args"):
        for item in arg.children:
            if isinstance(item, Tree):
                yield str(item.children[0]), item, None
        break
    for node in func.iter_subtrees_topdown():
        if node.data == "func_var_stmt":
            decl = node.children[0]
            value = decl.children[-1] if decl.data in {"func_var_inf"} else None
            yield str(decl.children[0]), decl, value
        elif node.data == "const_stmt":
            yield str(node.children[0].children[0]), node, None
        elif node.data in {"for_stmt", "for_stmt_typed"}:
            yield str(node.children[0]), node, None
        elif node.data == "var_capture_pattern":
            yield str(node.children[0]), node, None


def _declared_types(func: Tree, cls_body: Iterable[Tree | Token]) -> dict[str, str]:
    """Static type names of the function's parameters and locals and its class's variables ("" = none)."""
    types: dict[str, str] = {}

    def note(decl: Tree) -> None:
        name = str(decl.children[0])
        if decl.data.endswith("_typed") or decl.data.endswith("_typed_assgnd"):
            declared = _flat(decl.children[1])
            types[name] = "Typed" if "[" in declared else declared
        elif decl.data.endswith("_inf"):
            value = decl.children[-1]
            text = _flat(value)
            types[name] = "Dictionary" if text.startswith("{") else "Array" if text.startswith("[") else "Inferred"
        else:
            types[name] = ""

    for stmt in cls_body:
        if isinstance(stmt, Tree) and stmt.data in {"class_var_stmt", "static_class_var_stmt"}:
            inner = stmt if stmt.data == "class_var_stmt" else stmt.children[0]
            note(inner.children[0])
    header = func.children[0]
    for args in header.find_data("func_args"):
        for arg in args.children:
            if isinstance(arg, Tree):
                if arg.data in {"func_arg_typed", "func_arg_typed_assgnd"}:
                    declared = _flat(arg.children[1])
                    types[str(arg.children[0])] = "Typed" if "[" in declared else declared
                else:
                    types[str(arg.children[0])] = ""
        break
    for node in func.find_data("func_var_stmt"):
        note(node.children[0])
    return types


def _flat(node: Tree | Token) -> str:
    if isinstance(node, Token):
        return str(node)
    if node.data == "dict":
        return "{"
    if node.data == "array":
        return "["
    return "".join(_flat(child) for child in node.children)


def _untyped_value(value: Tree | Token, types: dict[str, str]) -> str:
    """Why ``:=`` cannot infer a type from ``value`` ("" when it can, as far as this check sees)."""
    node = value
    while isinstance(node, Tree) and node.data == "expr" and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, Tree):
        return ""
    if node.data == "subscr_expr":
        target = node.children[0]
        if isinstance(target, Token) and types.get(str(target), "Inferred") in _UNTYPED:
            return f"a subscript of the untyped {target}"
    if node.data == "getattr_call":
        getattr_node = node.children[0]
        parts = [str(c) for c in getattr_node.children if isinstance(c, Token)]
        if len(parts) >= 3 and parts[-1] in {"get", "call", "callv", "get_meta"}:
            target = parts[0]
            if parts[-1] in {"call", "callv", "get_meta"} or types.get(target, "Inferred") in _UNTYPED:
                return f"{target}.{parts[-1]}() (a Variant)"
    return ""


def _check_class(
    cls: _Class, body: list[Tree | Token], path: Path, global_classes: set[str], out: list[Finding]
) -> None:
    _class_members(body, cls, path, out)
    natives = list(_native_chain(cls.base))
    for stmt in body:
        inner = stmt.children[0] if isinstance(stmt, Tree) and stmt.data == "static_class_var_stmt" else stmt
        if isinstance(inner, Tree) and inner.data in {"class_var_stmt", "const_stmt", "signal_stmt"}:
            name = str(inner.children[0].children[0]) if inner.data != "signal_stmt" else str(inner.children[0])
            if name in _BUILTINS:
                out.append(Finding(path, _line(inner), "warning", f"SHADOWED_GLOBAL_IDENTIFIER: member {name}"))
            for native, names in natives:
                if name in names:
                    out.append(Finding(path, _line(inner), "error", f"member {name} redefines a member of {native}"))
                    break
    for stmt in body:
        func = stmt
        if isinstance(func, Tree) and func.data == "static_func_def":
            func = func.children[0]
        if not (isinstance(func, Tree) and func.data == "func_def"):
            continue
        types = _declared_types(func, body)
        for name, node, value in _locals(func):
            line = _line(node)
            if name in cls.members:
                out.append(Finding(path, line, "warning", f"SHADOWED_VARIABLE: {name} shadows a member of {cls.name}"))
            if name in _BUILTINS or name in global_classes:
                out.append(Finding(path, line, "warning", f"SHADOWED_GLOBAL_IDENTIFIER: {name}"))
            for native, names in natives:
                if name in names:
                    out.append(Finding(path, line, "warning", f"SHADOWED_VARIABLE_BASE_CLASS: {name} of {native}"))
                    break
            if value is not None:
                why = _untyped_value(value, types)
                if why:
                    out.append(Finding(path, line, "error", f"cannot infer the type of {name} from {why}"))
    for stmt in body:
        if isinstance(stmt, Tree) and stmt.data == "class_def":
            inner_body = stmt.children[1:]
            base = next(
                (str(s.children[0]) for s in inner_body if isinstance(s, Tree) and s.data == "extends_stmt"),
                "RefCounted",
            )
            _check_class(_Class(str(stmt.children[0]), base), list(inner_body), path, global_classes, out)


_PRELOAD = re.compile(r'preload\("res://addons/mien/([^"]+)"\)')


def _preload_cycles(paths: list[Path], root: Path) -> list[Finding]:
    edges: dict[Path, list[Path]] = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        edges[path] = [root / target for target in _PRELOAD.findall(code) if target.endswith(".gd")]
    findings: list[Finding] = []
    state: dict[Path, int] = {}

    def visit(node: Path, stack: list[Path]) -> None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt]
                findings.append(Finding(node, 0, "error", "preload cycle: " + " -> ".join(p.name for p in cycle)))
            elif state.get(nxt) is None:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for path in paths:
        if state.get(path) is None:
            visit(path, [path])
    return findings


def check_scripts(paths: list[Path], addon_root: Path) -> list[Finding]:
    """Every finding of every script (see the module docstring)."""
    from gdtoolkit.parser import parser

    findings: list[Finding] = []
    trees = {path: parser.parse(path.read_text(encoding="utf-8")) for path in paths}
    global_classes = {str(node.children[0]) for tree in trees.values() for node in tree.find_data("classname_stmt")}
    for path, tree in trees.items():
        body = list(tree.children)
        heads = {s.data: str(s.children[0]) for s in body if isinstance(s, Tree) and s.children}
        name = heads.get("classname_stmt", path.stem)
        base = heads.get("extends_stmt", "RefCounted")
        _check_class(_Class(name, base), body, path, global_classes - {name}, findings)
    findings.extend(_preload_cycles(paths, addon_root))
    return findings
