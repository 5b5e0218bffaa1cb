package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

var errNoObjects = errors.New("no PipelineRun, Pipeline or Task found")

// placeholderName stands in for the name the API server derives from
// generateName before the webhook runs (Validate requires metadata.name).
const placeholderName = "tektonlint-placeholder"

type object struct {
	kind, name, namespace string
	annotations           map[string]string
	obj                   any // *v1.PipelineRun, *v1.Pipeline or *v1.Task; nil when decoding failed
	err                   error
}

// lint decodes all inputs, registers the Pipelines and Tasks they define so
// that references resolve offline, then validates every object.
func lint(_ context.Context, inputs []input) []FileResult {
	results := make([]FileResult, len(inputs))
	objects := make([][]object, len(inputs))
	store := newStore()
	for i, in := range inputs {
		results[i] = FileResult{File: in.name, Errors: []Problem{}}
		objects[i] = decode(in.data)
		for _, o := range objects[i] {
			store.add(o)
		}
	}
	for i := range inputs {
		if len(objects[i]) == 0 {
			results[i].add("", "", errNoObjects)
		}
		for _, o := range objects[i] {
			err := o.err
			if err == nil {
				err = validate(o, store)
			}
			if err != nil {
				results[i].add(o.kind, o.name, err)
			}
		}
	}
	return results
}

func validate(o object, store *store) error {
	ctx, err := contextFor(o.annotations)
	if err != nil {
		return err
	}
	switch obj := o.obj.(type) {
	case *v1.PipelineRun:
		obj.SetDefaults(ctx)
		if ferr := obj.Validate(ctx); ferr != nil {
			return ferr
		}
		return reconcileChecks(ctx, obj, store)
	case *v1.Pipeline:
		obj.SetDefaults(ctx)
		if ferr := obj.Validate(ctx); ferr != nil {
			return ferr
		}
		return pipelineTaskChecks(ctx, &obj.Spec, nil, store, obj.Namespace)
	case *v1.Task:
		obj.SetDefaults(ctx)
		if ferr := obj.Validate(ctx); ferr != nil {
			return ferr
		}
	}
	return nil
}

// decode splits a YAML (or JSON) stream into documents and decodes each
// Tekton object strictly. Documents of other kinds are skipped.
func decode(data []byte) []object {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objects []object
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if err == io.EOF {
			return objects
		}
		if err != nil {
			return append(objects, object{err: fmt.Errorf("document %d: %w", n, err)})
		}
		if o, ok := decodeDocument(doc); ok {
			if o.kind == "" {
				o.err = fmt.Errorf("document %d: %w", n, o.err)
			}
			objects = append(objects, o)
		}
	}
}

func decodeDocument(doc []byte) (object, bool) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return object{err: err}, true
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return object{}, false
	}
	if js[0] != '{' {
		return object{err: errors.New("not a Kubernetes object: expected a mapping with apiVersion and kind")}, true
	}
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return object{err: fmt.Errorf("not a Kubernetes object: %w", err)}, true
	}
	o := object{kind: head.Kind, name: head.Metadata.Name, namespace: head.Metadata.Namespace,
		annotations: head.Metadata.Annotations}
	if o.name == "" {
		o.name = head.Metadata.GenerateName
	}
	var target metav1.Object
	switch head.Kind {
	case "PipelineRun":
		target = &v1.PipelineRun{}
	case "Pipeline":
		target = &v1.Pipeline{}
	case "Task":
		target = &v1.Task{}
	default:
		return object{}, false
	}
	strictErrs, err := kjson.UnmarshalStrict(js, target)
	if err != nil {
		o.err = err
		return o, true
	}
	if _, err := yaml.YAMLToJSONStrict(doc); err != nil {
		o.err = err
	} else if len(strictErrs) > 0 {
		o.err = runtime.NewStrictDecodingError(strictErrs)
	} else if want := v1.SchemeGroupVersion.String(); head.APIVersion != want {
		o.err = fmt.Errorf("apiVersion %q is not %q", head.APIVersion, want)
	}
	if target.GetName() == "" && target.GetGenerateName() != "" {
		target.SetName(placeholderName)
	}
	o.obj = target
	return o, true
}

// store resolves pipelineRef and taskRef offline, from the inputs.
type store struct {
	pipelines map[[2]string]*v1.Pipeline
	tasks     map[[2]string]*v1.Task
}

func newStore() *store {
	return &store{pipelines: map[[2]string]*v1.Pipeline{}, tasks: map[[2]string]*v1.Task{}}
}

func (s *store) add(o object) {
	if o.err != nil {
		return
	}
	switch obj := o.obj.(type) {
	case *v1.Pipeline:
		s.pipelines[[2]string{obj.Namespace, obj.Name}] = obj.DeepCopy()
	case *v1.Task:
		s.tasks[[2]string{obj.Namespace, obj.Name}] = obj.DeepCopy()
	}
}
