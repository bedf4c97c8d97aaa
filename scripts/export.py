"""The same as ``digitrec-export``; see ``conf/export.yaml``."""

from digitrec.export import main

if __name__ == "__main__":
    main()
