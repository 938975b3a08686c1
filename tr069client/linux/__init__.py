"""Built-in providers for a Linux system: TR-181 values read from /proc, /sys, /etc and the
kernel's netlink tables under model.root ("/", or a folder of sample files in tests)."""

# Settings the OS honours by default; stored (so writable by the ACS) like any setting.
PRODUCT_DEFAULTS = {
    "Device.Time.Enable": "true",
    "Device.DNS.Client.Enable": "true",
    "Device.IP.IPv4Enable": "true",
    "Device.IP.IPv6Enable": "true",
}


def providers(ident, ntp_servers=""):
    """The Linux providers; `ident` is identity.resolve()'s dict (DeviceInfo identity),
    `ntp_servers` the config's "ntp-servers"."""
    from . import clock, deviceinfo, dns, hosts, interfaces, processes, routing
    memory = {}   # what the network device scan keeps between sessions
    out = (deviceinfo.providers(ident) + [processes.provider(), clock.provider(ntp_servers)]
           + interfaces.providers(memory)
           + [dns.provider(memory), hosts.provider(memory), routing.provider(memory)])
    for p in out:
        p.get = _once(p.get, p.prefix)
    return out


def _once(get, prefix):
    # Read at most once per session (model.cache): a binding asks whether the OS has a
    # row before the model reads the values, and a second read would see CPU and traffic
    # counters a moment later.
    key = ("linux.values", prefix)

    def once(model):
        got = model.cache.get(key)
        if got is None:
            got = model.cache[key] = get(model)
        return got
    return once
