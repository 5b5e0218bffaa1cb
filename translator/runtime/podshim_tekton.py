# kfp-translate pod shim, Tekton part: appended to podshim.py for Tekton manifests only (the Argo
# manifests carry podshim.py alone, unchanged). It redefines a few of podshim's functions and
# turns Tekton's ways of handing values over into the env values podshim reads, so the
# ExecutorInput and the outputs are built by the same code on both engines.
# Contract: docs/tekton.md ("Values", "Loops", "dsl.OneOf") and docs/design.md.

# Results are files under /tekton/results that Tekton passes on into env values and args, where
# the kubelet turns a double dollar into one and expands dollar-parenthesis references: every
# dollar is doubled, and a value spelling dollar-parenthesis (which a later Tekton pass could
# read as a variable) travels base64. Tekton reports all results of a TaskRun through one
# termination message of 4096 bytes, its own data included: the budget is checked here instead
# of letting Tekton drop a result.
TEKTON_RESULT_BUDGET = 3072
ARRAY_ARG = "--kfpt-array="
LOOP_INDEX = None  # inside a loop: every result is "<iteration index>:<value>"

def b64wrap(text):
    return B64_PREFIX + base64.b64encode(text.encode("utf-8", "surrogateescape")).decode()

DOLLAR_PAREN = "$" + "("  # spelt apart: Tekton reads the shim's own source too

def for_tekton(text):
    if DOLLAR_PAREN in text or text.startswith(B64_PREFIX):
        return b64wrap(text)
    return text.replace("$", "$$")

def for_argo(text):  # podshim's writer of every output file, Tekton's encoding here
    text = for_tekton(text)
    return text if LOOP_INDEX is None else "%s:%s" % (LOOP_INDEX, text)

def transported(text):
    # a value as the kubelet hands it to env (dollars halved), from a result read as a file
    return text if text.startswith(B64_PREFIX) else text.replace("$$", "$")

def take_arrays(argv):
    # Tekton hands array parameters (the aggregated results of a matrixed task) over only as
    # whole argv elements: `--kfpt-array=ENV <elements...>` sections between the SPEC and `--`
    # become env ENV = the JSON list of the elements. Elements begin with an iteration index,
    # so none can be mistaken for a section marker or `--`.
    rest, arrays, current = list(argv[2:]), {}, None
    while rest and rest[0] != "--":
        x = rest.pop(0)
        if x.startswith(ARRAY_ARG):
            current = arrays.setdefault(x[len(ARRAY_ARG):], [])
        elif current is None:
            raise ShimError("unexpected argument %.80r before --" % x)
        else:
            current.append(x)
    return argv[:2] + rest, arrays

def iteration_value(items, index):
    # one iteration's value out of a matrixed task's aggregated results, whatever order Tekton
    # aggregated them in; None when that iteration wrote none (skipped)
    for item in items:
        k, sep, v = item.partition(":")
        if sep and k == index:
            return v
    return None

def collected_values(items, what):
    pairs = []
    for item in items:
        k, sep, v = item.partition(":")
        if not sep or not k.isdigit():
            raise ShimError("%s: %.80r is not an iteration result" % (what, item))
        pairs.append((int(k), unb64(v)))
    return [v for _, v in sorted(pairs)]

def loop_item(how, what):
    items = json.loads(getenv(how["listEnv"]) or "[]")
    item = items[int(getenv(how["indexEnv"]))]
    for key in [k for k in how.get("field", "").split(".") if k]:
        if not isinstance(item, dict) or key not in item:
            raise ShimError("%s: loop item %.200r has no field %r" % (what, item, key))
        item = item[key]
    return item if isinstance(item, str) else json.dumps(item, separators=SEP)

def final_status(raw, how):
    # PipelineTaskFinalStatus from the Tekton status words (tasks.<t>.status) of one group's tasks
    # (Succeeded, Failed, None = not run), joined by commas
    words = [w.strip() for w in raw.split(",") if w.strip()]
    failed = [w for w in words if w == "Failed"]
    state = "FAILED" if failed else "SKIPPED" if all(w == "None" for w in words) else "SUCCEEDED"
    error = {"code": 2, "message": "%d of %d tasks failed" % (len(failed), len(words))} if failed else {}
    return json.dumps({"error": error, "pipelineJobResourceName": getenv(how.get("runEnv", "")) or "",
                       "pipelineTaskName": how.get("task", ""), "state": state}, separators=SEP)

def setenv(name, text):
    # podshim reads env through two base64 layers (Argo's b64enc, then its own protection)
    if text is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = b64wrap(text)

def raw_env(name):
    v = os.environb.get(os.fsencode(name))
    return None if v is None else v.decode("utf-8", "surrogateescape")

def prepare(spec, arrays):
    # Tekton's hand-overs -> the env values podshim reads; the SPEC loses its Tekton keys
    for name, p in spec.get("inputs", {}).get("parameters", {}).items():
        env, what = p["env"], "input parameter %r ($%s)" % (name, p["env"])
        if p.get("file") is not None:  # dsl.OneOf: the branch's result, fetched from the store
            f = p.pop("file")
            setenv(env, transported(read_text(f)) if os.path.isfile(f) else None)
        elif p.get("loopItem") is not None:  # this iteration's item of a run-time list
            setenv(env, loop_item(p.pop("loopItem"), what))
        elif p.get("perIteration") is not None:  # a task of the same loop
            index = getenv(p.pop("perIteration")["indexEnv"])
            setenv(env, iteration_value(arrays.get(env, []), index))
        elif p.get("tektonCollected") is not None:  # dsl.Collected, in KFP's order
            leaf = p.pop("tektonCollected")["type"]
            setenv(env, json.dumps(collected_values(arrays.get(env, []), what)))
            p["collected"] = [1, leaf]
        elif p.get("tektonStatus") is not None:
            how = p.pop("tektonStatus")
            raw = raw_env(env)
            setenv(env, None if raw is None else final_status(raw, how))
        elif raw_env(env) is not None:
            setenv(env, raw_env(env))
    for name, a in spec.get("inputs", {}).get("artifacts", {}).items():
        env = a.get("metadataEnv")
        if a.get("metadataFile") is not None:
            f = a.pop("metadataFile")
            setenv(env, transported(read_text(f)) if os.path.isfile(f) else None)
        elif a.get("perIteration") is not None:
            index = getenv(a.pop("perIteration")["indexEnv"])
            setenv(env, iteration_value(arrays.get(env, []), index) or "{}")
        elif env and raw_env(env) is not None:
            setenv(env, raw_env(env))

def check_result_budget(spec):
    outs = spec["outputs"]
    paths = [p["argoPath"] for p in outs.get("parameters", {}).values()] + \
        [a["metadataPath"] for a in outs.get("artifacts", {}).values()]
    sizes = dict((os.path.basename(x), os.path.getsize(x)) for x in paths if os.path.isfile(x))
    total = sum(len(n) + s + 32 for n, s in sizes.items())  # 32: Tekton's JSON framing per result
    budget = spec.get("resultBudget", TEKTON_RESULT_BUDGET)
    if total > budget:
        big = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
        raise ShimError("results total about %d bytes, over the %d bytes Tekton can carry (largest: %s)"
                        % (total, budget, ", ".join("%s=%d bytes" % kv for kv in big)))

_argo_run = run

def run(argv):
    global LOOP_INDEX
    argv, arrays = take_arrays(argv) if len(argv) >= 3 else (argv, {})
    try:
        spec = json.loads(argv[1])
    except ValueError as e:
        raise ShimError("invalid SPEC: %s" % e)
    spec.pop("engine", None)
    index_env = spec.pop("loopIndexEnv", None)
    LOOP_INDEX = getenv(index_env) if index_env else None
    prepare(spec, arrays)
    code = _argo_run([argv[0], json.dumps(spec)] + argv[2:])
    if code == 0:
        check_result_budget(spec)
    return code
