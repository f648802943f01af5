# /etc/profile.d/nodectl-motd.sh: the node's status at an interactive root login,
# as oVirt Node ships it. Never blocks a login: root only (nodectl refuses
# others), at most 10 seconds, every error ignored.
if [ -n "${PS1-}" ] && [ "$(id -u 2>/dev/null)" = 0 ] && command -v nodectl >/dev/null 2>&1; then
    timeout -k 2 10 nodectl motd 2>/dev/null || true
fi
