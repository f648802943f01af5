"""Turning a stock Anaconda boot ISO into a node installer ISO or a PXE tree.

One job per module: `isofs` asks xorriso about an ISO and copies files out,
`bootmenus` rewrites boot menu text, `efiboot` edits the FAT image UEFI boots
from (with mtools, no mounts), `kickstart` points a kickstart at the image,
`remaster` and `pxe` are the two pipelines the CLI calls.
"""
