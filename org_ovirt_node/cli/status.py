"""`ovirt-node status`: the installed layout, found by its LVM tags."""

from org_ovirt_node.cli.output import emit_result
from org_ovirt_node.sizes import format_size
from org_ovirt_node.status import read_status


def register(subparsers):
    """Add the status subcommand."""
    parser = subparsers.add_parser("status", help="show the installed node layout")
    parser.add_argument("--vg", help="volume group (default: the one tagged imgbased:vg)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_status)


_LAYER_MARKS = (("boot default", "default"), ("running", "running"), ("fallback", "fallback"),
                ("pinned", "pinned"), ("bad", "bad"), ("last known good", "last_known_good"))


def _pct(value):
    return "-" if value is None else f"{value:.1f}%"


def _pool_line(pool, vg):
    """The pool's use and whether the VG's free space holds one autoextend:
    without that room the profile's promise to grow does not hold."""
    room = "" if vg["free"] >= pool["autoextend_step"] else " (too little: see ovirt-node check)"
    return (f"Thin pool {pool['name']}: {format_size(pool['size'])}, data "
            f"{_pct(pool['data_percent'])} used, metadata {_pct(pool['metadata_percent'])} "
            f"used; one autoextend takes {format_size(pool['autoextend_step'])} of the VG's "
            f"{format_size(vg['free'])} free{room}")


def _signed_lines(item):
    """Who signed a base's or layer's image, as verified at deploy ([] if not recorded)."""
    policy = item.get("signature_policy")
    if policy is None:
        return []
    signer = item.get("signed_by")
    if not signer:
        return [f"         signature not verified (policy {policy})"]
    uid = f" ({signer['uid']})" if signer.get("uid") else ""
    return [f"         signed by {signer.get('fingerprint')}{uid}, policy {policy}"]


def render_status(status):
    """Human text of a read_status() dict."""
    pool = status["pool"] or {}
    lines = [f"Volume group {status['vg']['name']}: {format_size(status['vg']['size'])}, "
             f"{format_size(status['vg']['free'])} free"]
    if pool:
        lines.append(_pool_line(pool, status["vg"]))
    for base in status["bases"]:
        flags = ", ".join(flag for flag, on in (("read-only", base["read_only"]),
                                                ("activation skip", base["activation_skip"]))
                          if on)
        lines.append(f"Base   {base['name']} ({format_size(base['size'])}; {flags})")
        lines += _signed_lines(base)
    for layer in status["layers"]:
        marks = [label for label, key in _LAYER_MARKS if layer[key]]
        release = layer["os_release"] or {}
        system = release.get("PRETTY_NAME") or release.get("NAME")
        lines.append(f"Layer  {layer['name']} <- {layer['origin']}"
                     f"{' (' + system + ')' if system else ''}"
                     f"{' [' + ', '.join(marks) + ']' if marks else ''}")
        for entry, kernel in zip(layer["entries"], layer["kernels"]):
            lines.append(f"         kernel {kernel}, boot entry {entry}")
        lines += _signed_lines(layer)
        local = (layer.get("kargs") or {}).get("local")
        if local and (local["added"] or local["removed"]):
            lines.append("         kernel arguments: local " + " ".join(
                [f"+{arg}" for arg in local["added"]] + [f"-{arg}" for arg in local["removed"]]))
        carried = layer.get("persisted") or []
        if carried:
            lines.append("         packages carried: " + ", ".join(
                f"{'+' if item.get('action') == 'install' else '-'}{item.get('name')} "
                f"{item.get('version')}" + (f" (dkms built {item['dkms_built']})"
                                            if item.get("dkms_built") else "")
                for item in carried))
        verdict = layer.get("health")
        if verdict:
            failed = f": {', '.join(verdict['failed'])} failed" if verdict["failed"] else ""
            lines.append(f"         health {verdict['status']} at {verdict['time']}{failed}")
    for volume in status["volumes"]:
        lines.append(f"Volume {volume['mount_point'] or '?'} on {volume['path']}: "
                     f"{format_size(volume['size'])}, "
                     f"{_pct(volume['data_percent'])} of it allocated")
    return "\n".join(lines)


def run_status(args):
    """Run `ovirt-node status`."""
    status = read_status(args.vg)
    emit_result(args, status, render_status(status))
    return 0
