package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-workflows/v4/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"
)

var errNoObjects = errors.New("no Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow found")

// object is one document of an input. kind is empty for a document that could
// not be read as a Kubernetes object; obj is nil when decoding failed.
type object struct {
	kind, name, namespace string
	obj                   metav1.Object
	err                   error // decoding error: the object is not validated
}

// lint decodes all inputs, registers the templates they define, then
// validates every Argo object against them.
func lint(ctx context.Context, inputs []input) []FileResult {
	results := make([]FileResult, len(inputs))
	objects := make([][]object, len(inputs))
	store := newTemplateStore()
	for i, in := range inputs {
		results[i] = FileResult{File: in.name, Errors: []Problem{}}
		objects[i] = decode(in.data)
		for _, o := range objects[i] {
			if err := store.add(o); err != nil {
				results[i].add(o.kind, o.name, err)
			}
		}
	}
	for i := range inputs {
		if len(objects[i]) == 0 {
			results[i].add("", "", errNoObjects)
		}
		for _, o := range objects[i] {
			err := o.err
			if err == nil {
				err = store.validate(ctx, o)
			}
			if err == nil {
				err = runtimeChecks(templatesOf(o.obj))
			}
			if err != nil {
				results[i].add(o.kind, o.name, err)
			}
		}
	}
	return results
}

// decode splits a YAML (or JSON) stream into documents and decodes each Argo
// object strictly. Documents of other kinds are skipped.
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
		return object{}, false // empty document
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
	o := object{kind: head.Kind, name: head.Metadata.Name, namespace: head.Metadata.Namespace}
	if o.name == "" {
		o.name = head.Metadata.GenerateName
	}
	switch head.Kind {
	case workflow.WorkflowKind:
		o.obj = &wfv1.Workflow{}
	case workflow.WorkflowTemplateKind:
		o.obj = &wfv1.WorkflowTemplate{}
	case workflow.ClusterWorkflowTemplateKind:
		o.obj = &wfv1.ClusterWorkflowTemplate{}
	case workflow.CronWorkflowKind:
		o.obj = &wfv1.CronWorkflow{}
	default:
		return object{}, false
	}
	// Strict decoding as in Argo's common.ParseObjects: duplicate YAML keys and
	// unknown or duplicate fields are errors.
	strictErrs, err := kjson.UnmarshalStrict(js, o.obj)
	if err != nil {
		o.obj, o.err = nil, err
		return o, true
	}
	if _, err := yaml.YAMLToJSONStrict(doc); err != nil {
		o.err = err
	} else if len(strictErrs) > 0 {
		o.err = runtime.NewStrictDecodingError(strictErrs)
	} else if want := wfv1.SchemeGroupVersion.String(); head.APIVersion != want {
		o.err = fmt.Errorf("apiVersion %q is not %q", head.APIVersion, want)
	}
	return o, true
}

// templateStore resolves template references offline, from the inputs.
type templateStore struct {
	namespaced map[string]namespaceTemplates
	cluster    clusterTemplates
}

func newTemplateStore() *templateStore {
	return &templateStore{namespaced: map[string]namespaceTemplates{}, cluster: clusterTemplates{}}
}

func (s *templateStore) namespace(ns string) namespaceTemplates {
	if t, ok := s.namespaced[ns]; ok {
		return t
	}
	return namespaceTemplates{namespace: ns, templates: map[string]*wfv1.WorkflowTemplate{}}
}

// add registers a decoded template (even one with strict decoding errors, as
// `argo lint --offline` does).
func (s *templateStore) add(o object) error {
	switch v := o.obj.(type) {
	case *wfv1.WorkflowTemplate:
		t := s.namespace(v.Namespace)
		if _, dup := t.templates[v.Name]; dup {
			return fmt.Errorf("duplicate WorkflowTemplate %q", v.Name)
		}
		t.templates[v.Name] = v
		s.namespaced[v.Namespace] = t
	case *wfv1.ClusterWorkflowTemplate:
		if _, dup := s.cluster[v.Name]; dup {
			return fmt.Errorf("duplicate ClusterWorkflowTemplate %q", v.Name)
		}
		s.cluster[v.Name] = v
	}
	return nil
}

// validate runs the validation Argo's offline lint client runs for the kind.
func (s *templateStore) validate(ctx context.Context, o object) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Argo validation panicked: %v", r)
		}
	}()
	opts := validate.ValidateOpts{Lint: true}
	templates := s.namespace(o.namespace)
	switch v := o.obj.(type) {
	case *wfv1.Workflow:
		return validate.ValidateWorkflow(ctx, templates, s.cluster, v, nil, opts)
	case *wfv1.WorkflowTemplate:
		return validate.ValidateWorkflowTemplate(ctx, templates, s.cluster, v, nil, opts)
	case *wfv1.ClusterWorkflowTemplate:
		// A ClusterWorkflowTemplate can reference no namespaced template.
		return validate.ValidateClusterWorkflowTemplate(ctx, namespaceTemplates{}, s.cluster, v, nil, opts)
	case *wfv1.CronWorkflow:
		// Argo lints CronWorkflows with submission rules (no lint options).
		return validate.ValidateCronWorkflow(ctx, templates, s.cluster, v, nil)
	}
	return nil
}

type namespaceTemplates struct {
	namespace string
	templates map[string]*wfv1.WorkflowTemplate
}

func (t namespaceTemplates) Get(_ context.Context, name string) (*wfv1.WorkflowTemplate, error) {
	if v, ok := t.templates[name]; ok {
		return v, nil
	}
	gr := schema.GroupResource{Group: workflow.Group, Resource: workflow.WorkflowTemplatePlural}
	return nil, apierrors.NewNotFound(gr, name)
}

type clusterTemplates map[string]*wfv1.ClusterWorkflowTemplate

func (t clusterTemplates) Get(_ context.Context, name string) (*wfv1.ClusterWorkflowTemplate, error) {
	if v, ok := t[name]; ok {
		return v, nil
	}
	gr := schema.GroupResource{Group: workflow.Group, Resource: workflow.ClusterWorkflowTemplatePlural}
	return nil, apierrors.NewNotFound(gr, name)
}
