"""The `ovirt-node` command: one thin door per subcommand onto the engine."""
