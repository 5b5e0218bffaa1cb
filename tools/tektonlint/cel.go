package main

import (
	"fmt"
	"io"

	"github.com/google/cel-go/cel"
)

// evalCEL evaluates one CEL `when` expression, already substituted, exactly as Tekton's
// PipelineRun reconciler does (pkg/reconciler/pipelinerun/resources/pipelinerunresolution.go,
// EvaluateCEL: a plain cel.NewEnv, Compile, Program, Eval with no variables) and prints
// "true" or "false". The local test harness (tests/tekton_harness.py) uses it to run CEL
// `when` expressions with Tekton's own evaluator. Exit status 2 when the expression does
// not compile, fails, or is not a boolean (the reconciler fails the run then).
func evalCEL(expr string, stdout, stderr io.Writer) int {
	env, _ := cel.NewEnv()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		fmt.Fprintln(stderr, "tektonlint eval-cel:", iss.Err())
		return 2
	}
	prg, err := env.Program(ast)
	if err != nil {
		fmt.Fprintln(stderr, "tektonlint eval-cel:", err)
		return 2
	}
	out, _, err := prg.Eval(map[string]interface{}{})
	if err != nil {
		fmt.Fprintln(stderr, "tektonlint eval-cel:", err)
		return 2
	}
	b, ok := out.Value().(bool)
	if !ok {
		fmt.Fprintf(stderr, "tektonlint eval-cel: the CEL expression %s is not evaluated to a boolean\n", expr)
		return 2
	}
	fmt.Fprintln(stdout, b)
	return 0
}
