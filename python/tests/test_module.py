import fastsci


def test_imports():
    assert fastsci.__name__ == "fastsci"
