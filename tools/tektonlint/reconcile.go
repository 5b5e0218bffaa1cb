package main

import (
	"context"
	"fmt"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun"
	trresources "github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
)

// reconcileChecks runs, in the reconciler's order, the checks a PipelineRun
// meets after admission and before its first TaskRun
// (pkg/reconciler/pipelinerun/pipelinerun.go, reconcile): they are exported
// by Tekton but not part of Validate, so a manifest can pass `kubectl apply`
// and still fail at once.
func reconcileChecks(ctx context.Context, pr *v1.PipelineRun, s *store) error {
	spec, err := pipelineSpecOf(pr, s)
	if err != nil || spec == nil {
		return err
	}
	spec = spec.DeepCopy()
	spec.SetDefaults(ctx)
	if ferr := spec.Validate(ctx); ferr != nil {
		return fmt.Errorf("pipeline spec: %w", ferr)
	}
	checks := []struct {
		what string
		err  error
	}{
		{"missing parameters", resources.ValidateRequiredParametersProvided(&spec.Params, &pr.Spec.Params)},
		{"parameter types", resources.ValidateParamTypesMatching(spec, pr)},
		{"object parameter keys", resources.ValidateObjectParamRequiredKeys(spec.Params, pr.Spec.Params)},
		{"array indexing", resources.ValidateParamArrayIndex(spec, pr.Spec.Params)},
		{"workspace bindings", resources.ValidateWorkspaceBindings(spec, pr)},
		{"taskRunSpecs", resources.ValidateTaskRunSpecs(spec, pr)},
	}
	for _, c := range checks {
		if c.err != nil {
			return fmt.Errorf("%s: %w", c.what, c.err)
		}
	}
	applied, err := resources.ApplyParameters(spec, pr)
	if err != nil {
		return fmt.Errorf("applying parameters: %w", err)
	}
	return pipelineTaskChecks(ctx, applied, pr, s, pr.Namespace)
}

// pipelineSpecOf returns the embedded spec, or the referenced Pipeline when it
// is among the inputs; nil (no error) for a reference to a Pipeline elsewhere.
func pipelineSpecOf(pr *v1.PipelineRun, s *store) (*v1.PipelineSpec, error) {
	if pr.Spec.PipelineSpec != nil {
		return pr.Spec.PipelineSpec, nil
	}
	ref := pr.Spec.PipelineRef
	if ref == nil || ref.Name == "" || ref.Resolver != "" {
		return nil, nil
	}
	p, ok := s.pipelines[[2]string{pr.Namespace, ref.Name}]
	if !ok {
		return nil, nil
	}
	return &p.Spec, nil
}

// pipelineTaskChecks resolves each task's spec and checks its parameters and
// the result references between tasks, as the reconciler does before the
// first TaskRun (ValidateResolvedTask, ValidatePipelineTaskResults,
// ValidatePipelineResults, ValidateOptionalWorkspaces).
func pipelineTaskChecks(ctx context.Context, spec *v1.PipelineSpec, pr *v1.PipelineRun, s *store, ns string) error {
	var state resources.PipelineRunState
	all := append(append([]v1.PipelineTask{}, spec.Tasks...), spec.Finally...)
	for i := range all {
		pt := all[i]
		taskSpec := taskSpecOf(&pt, s, ns)
		if taskSpec == nil {
			continue
		}
		rt := &trresources.ResolvedTask{TaskName: pt.Name, TaskSpec: taskSpec}
		if pr != nil {
			if err := taskrun.ValidateResolvedTask(ctx, pt.Params, pt.Matrix, rt); err != nil {
				return fmt.Errorf("pipeline task %q: %w", pt.Name, err)
			}
		}
		state = append(state, &resources.ResolvedPipelineTask{PipelineTask: &pt, ResolvedTask: rt})
	}
	if len(state) != len(all) {
		return nil // a task resolves elsewhere: references cannot all be checked offline
	}
	if err := resources.ValidatePipelineTaskResults(state); err != nil {
		return err
	}
	if err := resources.ValidatePipelineResults(spec, state); err != nil {
		return err
	}
	return resources.ValidateOptionalWorkspaces(spec.Workspaces, state)
}

func taskSpecOf(pt *v1.PipelineTask, s *store, ns string) *v1.TaskSpec {
	if pt.TaskSpec != nil {
		ts := pt.TaskSpec.TaskSpec.DeepCopy()
		return ts
	}
	if pt.TaskRef != nil && pt.TaskRef.Name != "" && pt.TaskRef.Resolver == "" {
		if t, ok := s.tasks[[2]string{ns, pt.TaskRef.Name}]; ok {
			return t.Spec.DeepCopy()
		}
	}
	return nil
}
