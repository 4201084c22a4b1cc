"""`hubbleclip embed`: feature shards across processes, resumed per shard, merged in id order."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate_launch import two_processes

from hubbleclip.cli import main
from hubbleclip.data.load import encoded_images, imaged_rows, load_split
from hubbleclip.data.shards import expand_shards, raw_samples
from hubbleclip.indexes.embedding import (
    ListSource,
    embed,
    embed_dataset,
    load_embeddings,
    shard_path,
)
from hubbleclip.indexes.files import sha256_file
from hubbleclip.models import load_model
from hubbleclip.models.embed import embed_images, embed_texts

HUBBLECLIP = str(Path(sys.executable).parent / "hubbleclip")
MERGED = ("image.npy", "image_ids.npy", "text.npy", "text_ids.npy", "manifest.json")


def job_args(tiny, tiny_skyset, out) -> list[str]:
    # 5 rows a shard and 3 a batch: several shards, split unevenly between two processes
    return [
        "embed",
        f"--model={tiny['tiny-lit']}",
        f"--data={tiny_skyset}",
        f"--out={out}",
        "--towers=image,text",
        "--shard_size=5",
        "--batch_size=3",
    ]


def test_two_processes_give_the_bytes_one_process_gives(tiny, tiny_skyset, tmp_path):
    # one torch thread, as torchrun gives each process
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(job_args(tiny, tiny_skyset, tmp_path / "one")) == 0
    finally:
        torch.set_num_threads(threads)
    two = two_processes(HUBBLECLIP, job_args(tiny, tiny_skyset, tmp_path / "two"))  # an absolute path
    assert two.returncode == 0, two.stderr[-3000:]
    for name in MERGED:
        assert (tmp_path / "one/merged" / name).read_bytes() == (
            tmp_path / "two/merged" / name
        ).read_bytes(), name
    shards = sorted(p.name for p in (tmp_path / "two/shards").iterdir())
    assert shards == sorted(p.name for p in (tmp_path / "one/shards").iterdir()) and len(shards) > 4
    for name in shards:  # shard k was process k mod 2's
        tower, k = name.removesuffix(".npz").split("-")
        assert f"process {int(k) % 2}: {tower} shard {int(k)} " in two.stderr, name

    # the merged vectors are the model's, in row order
    model = load_model(tiny["tiny-lit"])
    ds = load_split(tiny_skyset, "train")
    image = load_embeddings(tmp_path / "one", "image")
    assert isinstance(image.vectors, np.memmap)
    np.testing.assert_array_equal(image.ids, imaged_rows(ds))
    np.testing.assert_allclose(
        image.vectors, embed_images(model, encoded_images(ds.select(image.ids))), atol=1e-5
    )
    text = load_embeddings(tmp_path / "one", "text")
    np.testing.assert_array_equal(text.ids, np.flatnonzero([bool(c) for c in ds["caption"]]))
    np.testing.assert_allclose(text.vectors, embed_texts(model, ds.select(text.ids)["caption"]), atol=1e-5)
    manifest = json.loads((tmp_path / "one/merged/manifest.json").read_text())
    assert manifest["counts"] == {"image": len(image.ids), "text": len(text.ids)}
    assert manifest["dim"] == 32 and manifest["job"]["model"] == tiny["tiny-lit"]
    assert manifest["files"]["image.npy"]["sha256"] == sha256_file(tmp_path / "one/merged/image.npy")


def test_a_finished_shard_is_not_computed_again(tiny, tiny_skyset, tmp_path):
    out = tmp_path / "job"
    first = embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=3, shard_size=5)
    assert first.skipped == 0 and first.computed > 2
    before = np.load(out / "merged/image.npy")
    # shard 1 now holds zeros (a recomputation would undo that); shard 2 is gone, as if killed before it
    kept, lost = shard_path(out, "image", 1), shard_path(out, "image", 2)
    with np.load(kept) as z:
        ids, feats = z["ids"], z["features"]
    np.savez(kept, features=np.zeros_like(feats), ids=ids)
    stamp = shard_path(out, "image", 0).stat().st_mtime_ns
    lost.unlink()
    again = embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=3, shard_size=5)
    assert (again.computed, again.skipped) == (1, first.computed - 1)
    assert again.inputs == 5
    assert shard_path(out, "image", 0).stat().st_mtime_ns == stamp
    after = np.load(out / "merged/image.npy")
    assert not after[5:10].any()  # the finished shard was read, not recomputed
    np.testing.assert_array_equal(after[10:15], before[10:15])  # the lost one came back the same
    np.testing.assert_array_equal(np.delete(after, range(5, 10), 0), np.delete(before, range(5, 10), 0))


def test_another_job_in_the_same_directory_needs_overwrite(tiny, tiny_skyset, tmp_path):
    out = tmp_path / "job"
    embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=3, shard_size=5)
    with pytest.raises(FileExistsError, match="differs in batch_size"):
        embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=4, shard_size=5)
    redo = embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=4, shard_size=5, overwrite=True)
    assert redo.skipped == 0
    assert json.loads((out / "job.json").read_text())["batch_size"] == 4


def test_merge_only_and_a_missing_shard(tiny, tiny_skyset, tmp_path, capsys):
    out = tmp_path / "job"
    embed_dataset(tiny["tiny-lit"], tiny_skyset, out, batch_size=3, shard_size=5, merge=False)
    assert not (out / "merged").exists()
    assert main(["embed", "--out", str(out), "--merge_only"]) == 0
    assert (out / "merged/image.npy").is_file()
    shard_path(out, "image", 1).unlink()
    assert main(["embed", "--out", str(out), "--merge_only"]) == 2
    assert "image-00001.npz: missing" in capsys.readouterr().err
    assert (out / "merged/image.npy").is_file()  # the previous merge is untouched


def test_webdataset_shards_and_lists(tiny, tiny_skyset, tmp_path):
    shards = tmp_path / "wds"
    args = ["data", "export", "--format", "webdataset", "--dataset", tiny_skyset, "--out", str(shards)]
    assert main([*args, "--shard_size", "4"]) == 0
    n = len(list((shards / "train").glob("*.tar")))
    pattern = f"{shards}/train/{{00000..{n - 1:05d}}}.tar"
    report = embed_dataset(tiny["tiny-lit"], pattern, tmp_path / "job", towers=["image", "text"])
    assert report.computed == 2 * n
    samples = list(raw_samples(expand_shards(pattern)))
    model = load_model(tiny["tiny-lit"])
    image = load_embeddings(tmp_path / "job", "image")
    np.testing.assert_array_equal(image.ids, np.arange(len(samples)))  # every exported sample has an image
    expected = embed_images(model, [{"bytes": s["png"], "path": None} for s in samples])
    np.testing.assert_allclose(image.vectors, expected, atol=1e-5)
    text = load_embeddings(tmp_path / "job", "text")
    expected = embed_texts(model, [s["txt"].decode() for s in samples])
    np.testing.assert_allclose(text.vectors, expected, atol=1e-5)

    texts = [f"object {i} in the synthetic sky" for i in range(7)]
    embed(
        ListSource("text", texts, shard_size=3, name="synthetic"), model, tmp_path / "list", towers=["text"]
    )
    listed = load_embeddings(tmp_path / "list", "text")
    np.testing.assert_allclose(listed.vectors, embed_texts(model, texts), atol=1e-5)
