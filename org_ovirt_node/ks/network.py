"""A host's install network, told twice from one model: as the kickstart
`network` command (what the installed node keeps) and as dracut `ip=`,
`bond=`, `vlan=` and `nameserver=` boot arguments (what the installer uses to
fetch its kickstart). Deriving both here keeps them from disagreeing.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    """One host's boot interface.

    device: interface name ("" = the NIC with the host's MAC, DHCP only);
    with bond_slaves it is the bond's name. address/prefix/netmask/gateway
    are empty for DHCP. vlan: 802.1Q id on top of device, or None.
    """

    mac: str
    device: str = ""
    address: str = ""
    netmask: str = ""
    gateway: str = ""
    nameservers: tuple = ()
    bond_slaves: tuple = ()
    bond_options: str = ""
    vlan: object = None
    hostname: str = ""

    @property
    def static(self):
        return bool(self.address)

    @property
    def interface(self):
        """The interface that carries the address: the VLAN one if any."""
        return f"{self.device}.{self.vlan}" if self.vlan else self.device

    def kickstart_command(self):
        """The kickstart `network` line for this interface."""
        words = ["network", f"--bootproto={'static' if self.static else 'dhcp'}",
                 f"--device={self.device or self.mac}"]
        if self.static:
            words += [f"--ip={self.address}", f"--netmask={self.netmask}"]
            if self.gateway:
                words.append(f"--gateway={self.gateway}")
        if self.nameservers:
            words.append(f"--nameserver={','.join(self.nameservers)}")
        if self.bond_slaves:
            words.append(f"--bondslaves={','.join(self.bond_slaves)}")
            if self.bond_options:
                words.append(f"--bondopts={self.bond_options}")
        if self.vlan:
            words += [f"--vlanid={self.vlan}", f"--interfacename={self.interface}"]
        words += [f"--hostname={self.hostname}", "--activate", "--onboot=yes"]
        return " ".join(words)

    def kernel_args(self):
        """dracut arguments that bring this interface up in the installer."""
        args = [f"BOOTIF=01-{self.mac.replace(':', '-')}"]
        if self.bond_slaves:
            bond = f"bond={self.device}:{','.join(self.bond_slaves)}"
            args.append(bond + (f":{self.bond_options}" if self.bond_options else ""))
        if self.vlan:
            args.append(f"vlan={self.interface}:{self.device}")
        if self.static:
            args.append(f"ip={self.address}::{self.gateway}:{self.netmask}:"
                        f"{self.hostname}:{self.interface}:none")
        else:
            args.append(f"ip={self.interface}:dhcp" if self.interface else "ip=dhcp")
        args += [f"nameserver={server}" for server in self.nameservers]
        return args
