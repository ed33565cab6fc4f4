"""Run every benchmark in bench/ (bench_*.py), or those named on the command line."""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main(argv):
    names = sorted(f[6:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    chosen = argv or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r} (have: {', '.join(names)})", file=sys.stderr)
        return 2
    for name in chosen:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(HERE, f"bench_{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"== {name}: {mod.__doc__.strip().splitlines()[0]}", flush=True)
        mod.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
