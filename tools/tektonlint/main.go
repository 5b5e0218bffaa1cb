// Command tektonlint validates Tekton Pipelines v1 manifests offline with
// Tekton's own code: strict decoding into Tekton's Go types, SetDefaults and
// Validate as the admission webhook runs them, then the checks the
// PipelineRun reconciler makes before it creates the first TaskRun (required
// parameters provided, parameter types matching, workspace bindings, TaskRun
// specs naming real tasks, task parameters, result references). Feature flags
// are those of a stock install unless an object opts in (see flags.go).
// Results are printed as JSON on stdout.
//
// Usage: tektonlint FILE|DIR|- ...
//        tektonlint eval-cel EXPR   (evaluates one substituted CEL `when` as the reconciler does)
//
// Exit status: 0 when clean, 1 when any error was found, 2 on usage or I/O errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
)

const tektonModule = "github.com/tektoncd/pipeline"

// Problem is one lint finding. Kind and Name are empty for problems that
// belong to no Tekton object (YAML syntax errors, files without Tekton objects).
type Problem struct {
	File    string `json:"file"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// FileResult holds the findings for one input.
type FileResult struct {
	File   string    `json:"file"`
	Errors []Problem `json:"errors"`
}

func (r *FileResult) add(kind, name string, err error) {
	r.Errors = append(r.Errors, Problem{File: r.File, Kind: kind, Name: name, Message: err.Error()})
}

type input struct {
	name string
	data []byte
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "eval-cel" { // tektonlint eval-cel EXPR (cel.go)
		return evalCEL(args[1], stdout, stderr)
	}
	flags := flag.NewFlagSet("tektonlint", flag.ContinueOnError)
	flags.SetOutput(stderr)
	version := flags.Bool("version", false, "print the Tekton Pipelines version linted against and exit")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: tektonlint FILE|DIR|- ...")
		fmt.Fprintln(stderr, "Validates Tekton v1 manifests offline; '-' reads standard input.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, tektonVersion())
		return 0
	}
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	inputs, err := readInputs(flags.Args(), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "tektonlint:", err)
		return 2
	}
	results := lint(context.Background(), inputs)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(stderr, "tektonlint:", err)
		return 2
	}
	for _, r := range results {
		if len(r.Errors) > 0 {
			return 1
		}
	}
	return 0
}

// readInputs reads every argument: a file, a directory (its *.yaml, *.yml and
// *.json files, recursively, in lexical order) or "-" for standard input.
func readInputs(args []string, stdin io.Reader) ([]input, error) {
	var inputs []input
	stdinRead := false
	for _, arg := range args {
		if arg == "-" {
			if stdinRead {
				return nil, errors.New("'-' given more than once")
			}
			stdinRead = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading standard input: %w", err)
			}
			inputs = append(inputs, input{name: "-", data: data})
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			data, err := os.ReadFile(arg)
			if err != nil {
				return nil, err
			}
			inputs = append(inputs, input{name: arg, data: data})
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isManifest(path) {
				return err
			}
			data, err := os.ReadFile(path)
			if err == nil {
				inputs = append(inputs, input{name: path, data: data})
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return inputs, nil
}

func isManifest(path string) bool {
	return slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(path)))
}

// tektonVersion reports the version of the Tekton module compiled in.
func tektonVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == tektonModule {
				return tektonModule + " " + dep.Version
			}
		}
	}
	return tektonModule + " (unknown version)"
}
