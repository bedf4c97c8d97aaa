"""Read digits from images, videos or a camera (the same as ``digitrec-predict``); see
``conf/predict.yaml``."""

from digitrec.predict import main

if __name__ == "__main__":
    main()
