"""Capture labelled webcam frames (the same as ``digitrec-capture``); see ``conf/capture.yaml``."""

from digitrec.capture import main

if __name__ == "__main__":
    main()
