"""The fleet inventory (hosts.yaml): one entry per node, checked field by field.

    defaults:            # merged under every host (network: key by key)
      image_url: http://repo.example.com/ovirt-node-ng-4.5.5.squashfs
      disks: [sda]
      root_ssh_key: ssh-ed25519 AAAA... admin@example.com
    hosts:
      - hostname: node01.example.com
        mac: 52:54:00:00:00:01
        network: {device: eno1, ip: 192.0.2.11/24, gateway: 192.0.2.1}

Every error names the inventory file, the host and the field, so a typo in
host 7,431 of 10,000 is found before any node boots. Nothing here touches the
network or the hosts.
"""

import functools
import ipaddress
import re
import types
from dataclasses import dataclass

import yaml
from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.network import Network
from org_ovirt_node.ks.section import BUILD_OPTIONS, NodeAddonData, build_section
from org_ovirt_node.ks.url import parse_image_url_cached
from org_ovirt_node.util import safeio

# 10,000 hosts take about 2 MiB; no inventory needs more than this.
INVENTORY_LIMIT = 256 << 20

HOST_FIELDS = ("hostname", "mac", "network", "disks", "root_ssh_key", "root_password_hash",
               "timezone", "lang", "keyboard", "image_url", "checksum", "node")
NETWORK_FIELDS = ("device", "ip", "gateway", "nameservers", "bond", "vlan")
BOND_FIELDS = ("slaves", "options")
DEFAULTS = {"timezone": "Etc/UTC", "lang": "en_US.UTF-8", "keyboard": "us"}

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,14}$")
_DISK = re.compile(r"^[A-Za-z0-9_./:-]+$")
_SSH_KEY = re.compile(r"^(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+) "
                      r"[A-Za-z0-9+/]+={0,3}(?: [^\n\r]*)?$")
_CRYPT = re.compile(r"^\$(?:1|5|6|y|gy|2[aby])\$[^\s:]+$")
_WORD = re.compile(r"^[A-Za-z0-9_.@+/-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BOND_OPTIONS = re.compile(r"^[A-Za-z0-9_=,.;:-]*$")


_INT_TAG = "tag:yaml.org,2002:int"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader without base-60 integers, which would read an
    unquoted MAC such as 52:54:00:00:00:01 as the number 41135040001."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^(?:[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                         r"|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789"))


class InventoryError(NodeError):
    """A bad field; `where` names the file, host and field."""


@dataclass(frozen=True)
class Host:
    """One node of the inventory, checked and with defaults applied."""

    hostname: str
    mac: str
    network: Network
    disks: tuple
    root_ssh_key: str
    root_password_hash: str
    timezone: str
    lang: str
    keyboard: str
    node: NodeAddonData

    @property
    def mac_dashed(self):
        """The MAC as PXE file names spell it: 52-54-00-00-00-01."""
        return self.mac.replace(":", "-")


# Bounds that no real inventory comes near: nesting depth, and nodes after
# aliases are expanded (a "billion laughs" document stays a few lines long).
MAX_DEPTH = 32
MAX_NODES = 1_000_000


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MERGE = object()       # the key of a mapping entry that is a merge (<<)


class _ShapeError(yaml.YAMLError):
    """A document too deep or too large once its aliases are expanded."""

    def __init__(self, problem, mark):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


def _resolve(value, implicit, resolvers=_Loader.yaml_implicit_resolvers):
    """The tag of a scalar without an explicit one (Resolver.resolve, inlined)."""
    if implicit[0]:
        for tag, regexp in resolvers.get(value[:1], ()):
            if regexp.match(value):
                return tag
    return _STR_TAG


def _scalar(loader, event, tag):
    """A scalar other than a plain string, built by the safe loader's own constructor."""
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    constructor = loader.yaml_constructors.get(tag, loader.yaml_constructors[None])
    data = constructor(loader, node)
    if isinstance(data, types.GeneratorType):      # a collection tag on a scalar: refused
        data = next(data)
        for _ in data:
            pass
    return data


class _Collection:
    """A mapping or sequence being built, with what the checks need."""

    __slots__ = ("data", "anchor", "start", "mark", "key", "key_line", "seen", "merges")

    def __init__(self, data, anchor, start, mark):
        self.data, self.anchor, self.start, self.mark = data, anchor, start, mark
        self.key = self.key_line = self.merges = None
        self.seen = {} if isinstance(data, dict) else None


def _merge_into(frame):
    """Apply YAML merge keys (<<) the way SafeConstructor.flatten_mapping does."""
    merged = {}
    for value, mark in frame.merges:
        if isinstance(value, dict):
            merged.update(value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for mapping in reversed(value):
                merged.update(mapping)
        else:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", frame.mark,
                "expected a mapping or list of mappings for merging", mark)
    # merged keys first, then the mapping's own ones, which win
    own = dict(frame.data)
    frame.data.clear()
    frame.data.update(merged)
    frame.data.update(own)


def _add(frame, value, mark, key_tag=None):
    """Put VALUE into the collection FRAME (as a key when a mapping waits for one)."""
    data = frame.data
    if frame.seen is None:
        data.append(value)
        return
    if frame.key_line is None:
        if key_tag != _MERGE_TAG:
            try:
                hash(value)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", mark) from None
            if value in frame.seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{value}' is given twice "
                    f"(first on line {frame.seen[value] + 1})", mark)
            frame.seen[value] = mark.line
        frame.key, frame.key_line = (value if key_tag != _MERGE_TAG else _MERGE), mark.line
        return
    if frame.key is _MERGE:
        if frame.merges is None:
            frame.merges = []
        frame.merges.append((value, mark))
    else:
        data[frame.key] = value
    frame.key = frame.key_line = None


def parse_yaml(stream):
    """Load YAML text or a stream the way inventories are read (MACs stay strings).

    One pass over the safe loader's events (libyaml's when available) builds
    the data and checks it on the way: duplicate keys, nesting deeper than
    MAX_DEPTH and alias expansion beyond MAX_NODES are refused as
    yaml.YAMLError before anything deeper or larger is built. Scalars get the
    safe loader's types; the only collection tags are !!map and !!seq, and an
    alias inside its own anchor (recursive data) is refused.
    """
    text = stream if isinstance(stream, (str, bytes)) else stream.read()
    loader = _Loader(text)
    try:
        return _build(loader)
    finally:
        loader.dispose()


def _build(loader):  # noqa: C901 - one loop over the events, kept in one place
    get_event = loader.get_event
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    constructor_error = yaml.constructor.ConstructorError
    stack, anchors, sizes, building = [], {}, {}, set()
    nodes, document, document_mark = 0, None, None
    get_event()                                            # StreamStartEvent
    while True:
        event = get_event()
        if isinstance(event, yaml.StreamEndEvent):
            return document
        if document_mark is not None:
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", document_mark,
                "but found another document", event.start_mark)
        document_mark = event.start_mark                  # DocumentStartEvent
        top = _Collection([], None, 0, None)
        stack.append(top)
        while stack:
            event = get_event()
            cls = type(event)
            if cls is scalar_event:
                nodes += 1
                tag = event.tag
                if tag is None or tag == "!":
                    tag = _resolve(event.value, event.implicit)
                frame = stack[-1]
                if tag == _STR_TAG or tag == _MERGE_TAG and frame.seen is not None \
                        and frame.key_line is None:
                    value = event.value
                else:
                    value = _scalar(loader, event, tag)
                if event.anchor is not None:
                    _anchor(anchors, event, value)
                _add(frame, value, event.start_mark, tag)
            elif cls is alias_event:
                if event.anchor not in anchors:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
                if event.anchor in building:
                    raise constructor_error(
                        None, None, f"alias *{event.anchor} is inside its own anchor "
                        "(recursive data is refused)", event.start_mark)
                value = anchors[event.anchor][0]
                nodes += sizes.get(event.anchor, 1)
                _add(stack[-1], value, event.start_mark)
            elif cls is mapping_start or cls is sequence_start:
                nodes += 1
                if len(stack) > MAX_DEPTH:
                    raise _ShapeError(f"nested more than {MAX_DEPTH} levels deep",
                                      event.start_mark)
                tag = event.tag
                wanted = _MAP_TAG if cls is mapping_start else _SEQ_TAG
                if tag is not None and tag != "!" and tag != wanted:
                    raise constructor_error(
                        None, None, f"could not determine a constructor for the tag {tag!r} "
                        f"on a {'mapping' if cls is mapping_start else 'sequence'}",
                        event.start_mark)
                frame = _Collection({} if cls is mapping_start else [], event.anchor,
                                    nodes - 1, event.start_mark)
                if event.anchor is not None:
                    _anchor(anchors, event, frame.data)
                    building.add(event.anchor)
                stack.append(frame)
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame.merges:
                    _merge_into(frame)
                if frame.anchor is not None:
                    sizes[frame.anchor] = nodes - frame.start
                    building.discard(frame.anchor)
                _add(stack[-1], frame.data, frame.mark)
            else:                                          # DocumentEndEvent
                document = stack.pop().data[0] if top.data else None
            if nodes > MAX_NODES:
                raise _ShapeError(f"expands to more than {MAX_NODES} values (aliases)",
                                  getattr(event, "start_mark", None))


def _anchor(anchors, event, value):
    if event.anchor in anchors:
        raise yaml.composer.ComposerError(
            f"found duplicate anchor {event.anchor!r}; first occurrence",
            anchors[event.anchor][1], "second occurrence", event.start_mark)
    anchors[event.anchor] = (value, event.start_mark)


def load_inventory(path):
    """Read and check the inventory at PATH; return its hosts in order."""
    text = safeio.read_text(path, "inventory", limit=INVENTORY_LIMIT)
    try:
        document = parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise NodeError(f"not valid YAML: {problem}", where=where) from None
    return parse_inventory(document, str(path))


def parse_inventory(document, name="inventory"):
    """Check an inventory already loaded as Python data; NAME is used in errors."""
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), list):
        raise InventoryError("the inventory must be a mapping with a 'hosts' list", where=name)
    unknown = set(document) - {"defaults", "hosts"}
    if unknown:
        raise InventoryError(f"unknown top-level key '{sorted(unknown)[0]}' "
                             "(use defaults and hosts)", where=name)
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise InventoryError("'defaults' must be a mapping", where=name)
    _check_keys(defaults, HOST_FIELDS, f"{name}: defaults", "")
    hosts, seen = [], {}
    for index, entry in enumerate(document["hosts"], 1):
        label = f"{name}: host #{index}"
        if not isinstance(entry, dict):
            raise InventoryError("must be a mapping of fields", where=label)
        if isinstance(entry.get("hostname"), str):
            label = f"{name}: host {entry['hostname']} (#{index})"
        host = _parse_host(_merge(defaults, entry), label)
        for key, value in (("hostname", host.hostname), ("mac", host.mac),
                           ("network.ip", host.network.address)):
            if value and (key, value) in seen:
                raise InventoryError(f"{value} is already used by host {seen[key, value]}",
                                     where=f"{label}: field {key}")
            seen[key, value] = host.hostname
        hosts.append(host)
    if not hosts:
        raise InventoryError("the 'hosts' list is empty", where=name)
    return hosts


def _merge(defaults, entry):
    merged = {**DEFAULTS, **defaults, **entry}
    if isinstance(defaults.get("network"), dict) and isinstance(entry.get("network"), dict):
        merged["network"] = {**defaults["network"], **entry["network"]}
    return merged


def _check_keys(mapping, allowed, label, prefix):
    for key in mapping:
        if key not in allowed:
            raise InventoryError(f"unknown field (known: {', '.join(allowed)})",
                                 where=f"{label}: field {prefix}{key}")


class _Fields:
    """Reads fields of one host, naming the field in every error."""

    def __init__(self, data, label):
        self.data, self.label = data, label

    def fail(self, field, message):
        raise InventoryError(message, where=f"{self.label}: field {field}")

    def text(self, field, pattern=None, required=False, source=None):
        value = (self.data if source is None else source).get(field.rsplit(".", 1)[-1])
        if value is None or value == "":
            if required:
                self.fail(field, "is required")
            return ""
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self.fail(field, "must be a string")
        value = str(value)
        if _CONTROL.search(value):
            self.fail(field, f"{value!r} holds a line break or another control character")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(field, f"'{value}' is not valid here")
        return value

    def items(self, field, pattern, source=None):
        value = (self.data if source is None else source).get(field.rsplit(".", 1)[-1]) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v)
                                                  for v in value):
            self.fail(field, "must be a list of names without spaces or commas")
        return tuple(value)


def _parse_host(data, label):
    _check_keys(data, HOST_FIELDS, label, "")
    fields = _Fields(data, label)
    hostname = fields.text("hostname", required=True)
    if len(hostname) > 253 or not all(_LABEL.fullmatch(part) for part in hostname.split(".")):
        fields.fail("hostname", f"'{hostname}' is not a valid host name")
    mac = fields.text("mac", required=True).lower()
    if not _MAC.fullmatch(mac):
        fields.fail("mac", f"'{mac}' is not a MAC address like 52:54:00:12:34:56")
    mac = mac.replace("-", ":")
    disks = tuple(d[5:] if d.startswith("/dev/") else d for d in fields.items("disks", _DISK))
    if not disks:
        fields.fail("disks", "is required: name the disks the node is installed on")
    ssh_key = fields.text("root_ssh_key", _SSH_KEY)
    password = fields.text("root_password_hash", _CRYPT)
    if not ssh_key and not password:
        fields.fail("root_ssh_key", "give root_ssh_key or root_password_hash (a crypt hash); "
                    "otherwise nobody can log in to the node")
    return Host(
        hostname=hostname, mac=mac, network=_parse_network(fields, hostname, mac),
        disks=disks, root_ssh_key=ssh_key, root_password_hash=password,
        timezone=fields.text("timezone", _WORD), lang=fields.text("lang", _WORD),
        keyboard=fields.text("keyboard", _WORD), node=_parse_node(fields))


def _parse_network(fields, hostname, mac):
    net = fields.data.get("network") or {}
    if not isinstance(net, dict):
        fields.fail("network", "must be a mapping (device, ip, gateway, nameservers, bond, vlan)")
    _check_keys(net, NETWORK_FIELDS, fields.label, "network.")
    device = fields.text("network.device", _IFNAME, source=net)
    address = netmask = gateway = ""
    ip_text = fields.text("network.ip", source=net)
    if ip_text:
        try:
            interface = ipaddress.IPv4Interface(ip_text)
        except ValueError:
            interface = None
        if interface is None or "/" not in ip_text:
            fields.fail("network.ip", f"'{ip_text}' must be an IPv4 address with a prefix, "
                        "like 192.0.2.11/24")
        address, netmask = str(interface.ip), str(interface.netmask)
        gateway = fields.text("network.gateway", source=net)
        if gateway and not _in_network(gateway, interface):
            fields.fail("network.gateway", f"'{gateway}' is not an address in {interface.network}")
    elif net.get("gateway"):
        fields.fail("network.gateway", "needs network.ip (a gateway only goes with a static address)")
    nameservers = fields.items("network.nameservers", _WORD, source=net)
    for server in nameservers:
        try:
            _ip_address(server)
        except ValueError:
            fields.fail("network.nameservers", f"'{server}' is not an IP address")
    slaves, options = (), ""
    bond = net.get("bond")
    if bond is not None:
        if not isinstance(bond, dict):
            fields.fail("network.bond", "must be a mapping with slaves and options")
        _check_keys(bond, BOND_FIELDS, fields.label, "network.bond.")
        slaves = fields.items("network.bond.slaves", _IFNAME, source=bond)
        if not slaves:
            fields.fail("network.bond.slaves", "a bond needs at least one slave interface")
        options = fields.text("network.bond.options", _BOND_OPTIONS, source=bond)
    vlan = net.get("vlan")
    if vlan is not None and (isinstance(vlan, bool) or not isinstance(vlan, int)
                             or not 1 <= vlan <= 4094):
        fields.fail("network.vlan", f"'{vlan}' is not a VLAN id (1-4094)")
    if not device and (address or slaves or vlan):
        fields.fail("network.device", "is required with a static ip, a bond or a vlan")
    return Network(mac=mac, device=device, address=address, netmask=netmask, gateway=gateway,
                   nameservers=nameservers, bond_slaves=slaves, bond_options=options,
                   vlan=vlan, hostname=hostname)


def _in_network(address, interface):
    try:
        return _ipv4_address(address) in interface.network
    except ValueError:
        return False


# Hosts share their gateway and name servers: each text is parsed once.
_ip_address = functools.lru_cache(maxsize=1024)(ipaddress.ip_address)
_ipv4_address = functools.lru_cache(maxsize=1024)(ipaddress.IPv4Address)


def _parse_node(fields):
    image_url = fields.text("image_url", required=True)
    checksum = fields.text("checksum")
    options = fields.data.get("node") or {}
    if not isinstance(options, dict):
        fields.fail("node", f"must be a mapping of section options ({', '.join(BUILD_OPTIONS)})")
    _check_keys(options, BUILD_OPTIONS, fields.label, "node.")
    _check_node_types(fields, options)
    try:
        parse_image_url_cached(image_url)
    except NodeError as error:
        fields.fail("image_url", error.message)
    try:
        return build_section(image_url, checksum, options)
    except NodeError as error:
        fields.fail("checksum" if error.message.startswith("checksum") else "node", error.message)


# The YAML type each section option must have: `noverifyssl: 'no'` is a
# string, and a string must not silently mean yes.
_NODE_TYPES = {"noverifyssl": (bool,), "keep": (int,), "volume": (dict,)}


def _check_node_types(fields, options):
    for key, value in options.items():
        if value is None:
            continue
        wanted = _NODE_TYPES.get(key, (str,))
        if isinstance(value, bool) and bool not in wanted or not isinstance(value, wanted):
            kind = {bool: "true or false", int: "a whole number", dict: "a mapping",
                    str: "a string"}[wanted[0]]
            fields.fail(f"node.{key}", f"{value!r} must be {kind}")
        if isinstance(value, str) and _CONTROL.search(value):
            fields.fail(f"node.{key}", f"{value!r} holds a line break or another control "
                        "character")
    for mount, size in (options.get("volume") or {}).items():
        if not isinstance(mount, str) or isinstance(size, bool) \
                or not isinstance(size, (str, int)) \
                or any(_CONTROL.search(str(part)) for part in (mount, size)):
            fields.fail("node.volume", f"{mount!r}: {size!r} must be a mount point and a size, "
                        "like /var/log: 16GiB")
