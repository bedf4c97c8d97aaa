"""The same as ``digitrec-eval``; see ``conf/eval.yaml``."""

from digitrec.evaluate import main

if __name__ == "__main__":
    main()
