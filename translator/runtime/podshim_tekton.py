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
# Output parameters over that budget are set aside (largest first) in the SPEC's spill dir, which the
# task's kfpt-store step uploads to the artifact store; the result then holds REF_PREFIX and
# the object's key, and a consumer's kfpt-fetch step brings the value back (docs/tekton.md,
# "Results size").
REF_PREFIX = "__KFP_REF__:"
ARRAY_ARG = "--kfpt-array="
LOOP_INDEX = None  # inside a loop: every result is "<iteration index>:<value>"

def b64wrap(text):
    return B64_PREFIX + base64.b64encode(text.encode("utf-8", "surrogateescape")).decode()

DOLLAR_PAREN = "$" + "("  # spelt apart: Tekton reads the shim's own source too

def for_tekton(text):
    # ABSENT too: inside a loop, "<index>:" + ABSENT is an iteration whose condition was false
    if DOLLAR_PAREN in text or text.startswith(B64_PREFIX) or ABSENT in text:
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

def index_prefix(index, depth):
    # the index "i.j.k" of an iteration of nested loops, cut to its first `depth` parts
    return ".".join((index or "").split(".")[:depth]) if depth else ""

def iteration_value(items, index):
    # one iteration's value out of a matrixed task's aggregated results, whatever order Tekton
    # aggregated them in; None when that iteration wrote none or ABSENT (its condition was false;
    # with dsl.OneOf the items hold every branch's results: the branch that ran is taken)
    for item in items:
        k, sep, v = item.partition(":")
        if sep and k == index and v != ABSENT:
            return v
    return None

def iteration_pairs(items, what, select=0, own=None):
    # (index parts after the first `select`, value) of the iterations whose first `select`
    # index parts are the reader's own, sorted as KFP orders iterations (numerically)
    mine = own.split(".")[:select] if select else []
    pairs = []
    for item in items:
        k, sep, v = item.partition(":")
        parts = k.split(".")
        if not sep or not all(x.isdigit() for x in parts):
            raise ShimError("%s: %.80r is not an iteration result" % (what, item))
        if parts[:select] == mine:
            pairs.append((tuple(int(x) for x in parts[select:]), v))
    return sorted(pairs)

def nest_lists(pairs, depth, outer=None):
    # depth 1: the values in order; depth 2: one list per outer iteration (each of `outer`, the
    # outer loop's iterations, when known: an empty inner loop gives []), ...
    if depth <= 1:
        return [v for _, v in pairs]
    if outer is not None:
        groups = {}
        for key, v in pairs:
            groups.setdefault(key[0], []).append((key[1:], v))
        return [nest_lists(groups.get(k, []), depth - 1) for k in outer]
    groups = []
    for key, v in pairs:
        if not groups or groups[-1][0] != key[0]:
            groups.append((key[0], []))
        groups[-1][1].append((key[1:], v))
    return [nest_lists(g, depth - 1) for _, g in groups]

def collected_values(items, what, how=None):
    how = how or {}
    select = how.get("select", 0)
    own = getenv(how["indexEnv"]) if select else None
    pairs = [(k, unb64(v)) for k, v in iteration_pairs(items, what, select, own) if v != ABSENT]
    outer = None
    if how.get("outerEnv"):
        outer = [k[0] for k, _ in iteration_pairs([i + ":" for i in arrays_of(how["outerEnv"])], what, select, own)]
    return nest_lists(pairs, how.get("depth", 1), outer)

def nest_item(how, what):
    # an item of a nest of loops with a run-time level: walk the levels' sources (the lists in
    # env, or fields of an enclosing level's item) along this iteration's index "i.j..."
    index = [int(x) for x in getenv(how["indexEnv"]).split(".")]
    items = []
    for level, src in enumerate(how["sources"][:how["level"]]):
        if "list" in src:
            values = json.loads(getenv(how["listEnv"] + str(src["list"])) or "[]")
        else:
            values = pick_field(items[src["of"] - 1], src["field"], what)
        if not isinstance(values, list):
            raise ShimError("%s: loop items %.200r are not a list" % (what, values))
        items.append(values[index[level] - src.get("offset", 0)])
    item = pick_field(items[-1], how.get("field", ""), what)
    return item if isinstance(item, str) else json.dumps(item, separators=SEP)

def pick_field(item, path, what):
    for key in [k for k in path.split(".") if k]:
        if not isinstance(item, dict) or key not in item:
            raise ShimError("%s: loop item %.200r has no field %r" % (what, item, key))
        item = item[key]
    return item

def artifact_list(a, how, arrays, what):
    # dsl.Collected artifacts: the fetch step brought every iteration's object to
    # <dir>/i<index>/<name>; the metadata results say which iterations made one. They move to
    # <path>/0, <path>/1, ... in KFP's order, as podshim reads a list of artifacts.
    env = a.get("metadataEnv")
    select = how.get("select", 0)
    own = getenv(how["indexEnv"]) if select else None
    mine = index_prefix(own, select)
    os.makedirs(a["path"], exist_ok=True)
    mds = []
    for key, md in iteration_pairs(arrays.get(env, []), what, select, own):
        if md == ABSENT:  # an iteration whose condition was false made no artifact
            continue
        index = ".".join([mine] + [str(x) for x in key]) if mine else ".".join(str(x) for x in key)
        src = os.path.join(how["dir"], "i" + index, how["name"])
        if not os.path.lexists(src):
            raise ShimError("%s: the artifact of iteration %s is not in the artifact store" % (what, index))
        os.rename(src, os.path.join(a["path"], str(len(mds))))
        try:
            mds.append(json.loads(unb64(md)))
        except ValueError:
            mds.append({})
    setenv(env, json.dumps(mds, separators=SEP))

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

ARRAYS = {}  # the array sections of the command line (take_arrays), by env name

def arrays_of(env):
    return ARRAYS.get(env, [])

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
        elif p.get("nestItem") is not None:  # an item of nested loops with a run-time level
            setenv(env, nest_item(p.pop("nestItem"), what))
        elif p.get("perIteration") is not None:  # a task of the same loop (or of an enclosing one)
            how = p.pop("perIteration")
            index = getenv(how["indexEnv"])
            if how.get("depth"):
                index = index_prefix(index, how["depth"])
            setenv(env, iteration_value(arrays.get(env, []), index))
        elif p.get("tektonCollected") is not None:  # dsl.Collected, in KFP's order
            how = p.pop("tektonCollected")
            setenv(env, json.dumps(collected_values(arrays.get(env, []), what, how)))
            p["collected"] = [how.get("depth", 1), how["type"]]
        elif p.get("tektonStatus") is not None:
            how = p.pop("tektonStatus")
            raw = raw_env(env)
            setenv(env, None if raw is None else final_status(raw, how))
        elif p.get("refFile") is not None and (raw_env(env) or "").startswith(REF_PREFIX):
            setenv(env, transported(read_text(p.pop("refFile"))))  # fetched by kfpt-fetch
        elif raw_env(env) is not None:
            setenv(env, raw_env(env))
        p.pop("refFile", None)
    for name, a in spec.get("inputs", {}).get("artifacts", {}).items():
        env = a.get("metadataEnv")
        if a.get("tektonList") is not None:
            artifact_list(a, a.pop("tektonList"), arrays, "input artifact %r" % name)
        elif a.get("metadataFile") is not None:
            f = a.pop("metadataFile")
            setenv(env, transported(read_text(f)) if os.path.isfile(f) else None)
        elif a.get("perIteration") is not None:
            index = getenv(a.pop("perIteration")["indexEnv"])
            setenv(env, iteration_value(arrays.get(env, []), index) or "{}")
        elif env and raw_env(env) is not None:
            setenv(env, raw_env(env))

def check_result_budget(spec, spill=None):
    outs = spec["outputs"]
    params = [p["argoPath"] for p in outs.get("parameters", {}).values()]
    paths = params + [a["metadataPath"] for a in outs.get("artifacts", {}).values()]
    sizes = dict((os.path.basename(x), os.path.getsize(x)) for x in paths if os.path.isfile(x))
    total = sum(len(n) + s + 32 for n, s in sizes.items())  # 32: Tekton's JSON framing per result
    budget = spec.get("resultBudget", TEKTON_RESULT_BUDGET)
    spill_prefix = getenv(spill["env"]) if spill else None
    if total > budget and spill_prefix:  # the largest output parameters go through the store
        for path in sorted((x for x in params if os.path.isfile(x)), key=lambda x: -os.path.getsize(x)):
            if total <= budget:
                break
            name = os.path.basename(path)
            mkparent(os.path.join(spill["dir"], name))
            shutil.move(path, os.path.join(spill["dir"], name))
            ref = REF_PREFIX + spill_prefix + "/" + name
            write_text(path, ref)
            total -= sizes[name] - len(ref)
            sizes[name] = len(ref)
    if total > budget:
        big = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
        raise ShimError("results total about %d bytes, over the %d bytes Tekton can carry (largest: %s)"
                        % (total, budget, ", ".join("%s=%d bytes" % kv for kv in big)))

_argo_old_kfp_paths_env = old_kfp_paths_env

def old_kfp_paths_env(shim_dir):
    # the component's env without the shim's own hand-over variables (KFPT_*): the component
    # reads none of them, and with a large value one can exceed the kernel's 128 KiB limit on
    # a single environment string
    env = _argo_old_kfp_paths_env(shim_dir)
    return dict((k, v) for k, v in env.items() if not k.startswith("KFPT_"))

STEP_REF = DOLLAR_PAREN + "steps."

def write_placeholders(spec):
    # a container component's placeholders that only the shim can resolve (a loop's values,
    # dsl.Collected, lists of artifacts): each text as KFP renders it, written as a step result
    # (a JSON string: Tekton's entrypoint then puts exactly this text into the component's
    # command and args)
    ei = build_executor_input(spec)
    params = spec.get("inputs", {}).get("parameters", {})
    for env, what in sorted(spec["placeholders"].items()):
        if "parameter" in what:
            name = what["parameter"]
            value = ei["inputs"]["parameterValues"].get(name)
            text = "" if value is None else canon(params[name]["type"], value)
        else:
            name = what["artifacts"]
            arts = ei["inputs"]["artifacts"].get(name, {}).get("artifacts", [])
            text = json.dumps([dict((k, a[k]) for k in ("metadata", "name", "uri")) for a in arts],
                              sort_keys=True, separators=SEP, ensure_ascii=False)
        if STEP_REF in text:  # the entrypoint would substitute inside it: refuse rather than alter
            raise ShimError("input %r: its value spells a Tekton step result reference (%s...)" % (name, STEP_REF))
        path = getenv(env)
        mkparent(path)
        with open(path, "w") as f:
            json.dump(text, f)  # ASCII: any locale
    return 0

_argo_run = run

def run(argv):
    global LOOP_INDEX
    argv, arrays = take_arrays(argv) if len(argv) >= 3 else (argv, {})
    ARRAYS.update(arrays)
    try:
        spec = json.loads(argv[1])
    except ValueError as e:
        raise ShimError("invalid SPEC: %s" % e)
    spec.pop("engine", None)
    index_env = spec.pop("loopIndexEnv", None)
    spill = spec.pop("spill", None)
    LOOP_INDEX = getenv(index_env) if index_env else None
    prepare(spec, arrays)
    if spec.get("placeholders"):
        return write_placeholders(spec)
    code = _argo_run([argv[0], json.dumps(spec)] + argv[2:])
    if code == 0:
        check_result_budget(spec, spill)
    return code
