"""Train mercato's CNN on an image folder (``root/<class>/*.png``) and classify with it.

    python examples/train_cnn_folder.py [FOLDER] [--small]

Without FOLDER it uses the bundled ``datasets/sample_images`` (20 procedurally drawn 28x28
product silhouettes, two per class), augmented with small shifts so that a few epochs have
something to learn from; with FOLDER any class-per-subfolder image set works (images are
resized to 28x28 grey). ``--small`` (or MERCATO_EXAMPLE_SMALL=1) trains 3 epochs. Needs the
vision extension (``make develop``); exits with a message without it.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

SMALL = "--small" in sys.argv or os.environ.get("MERCATO_EXAMPLE_SMALL") == "1"
args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "datasets" / "sample_images"

try:
    from mercato import vision

    vision.native()
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(0)

images, labels, class_names, paths, skipped = vision.load_image_folder(root)
print(f"{root}: {len(images)} images in {len(class_names)} classes {class_names}; {len(skipped)} unreadable")

# A few shifted copies per image (the folder may be tiny); the originals stay the test set.
rng = np.random.default_rng(0)
copies = 8 if SMALL else 30
shifted = [np.roll(images, (int(dy), int(dx)), axis=(2, 3)) for dy, dx in rng.integers(-2, 3, size=(copies, 2))]
x_train, y_train = np.concatenate(shifted), np.tile(labels, copies)

clf = vision.ImageClassifier(
    "small_cnn",
    num_classes=len(class_names),
    class_names=class_names,
    hidden=128,
    seed=0,
    num_threads=2,
    patience=None,
    epochs=3 if SMALL else 10,
    batch_size=64,
    validation_fraction=0.1,
)
clf.fit(x_train, y_train)
for e in clf.history_["epochs"]:
    print(f"  epoch {e['epoch']}: train loss {e['train_loss']:.3f}, validation accuracy {e.get('val_accuracy')}")
print(f"accuracy on the {len(images)} unshifted originals: {clf.score(images, labels):.3f}")

# Save, reload, classify files by path.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "folder_cnn.mercato"
    clf.save(path)
    again = vision.ImageClassifier.load(path)
    for p, name in zip(paths[:3], again.predict_names([str(p) for p in paths[:3]])):
        print(f"  {Path(p).name}: {name}")
