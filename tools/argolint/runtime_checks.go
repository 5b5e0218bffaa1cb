package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
)

// cacheKeyPattern is the rule Argo's controller applies to a memoization key when it looks
// the key up (workflow/controller/cache): a key outside it fails the node at run time.
var cacheKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9]*$`)

// runtimeChecks reports what Argo's offline lint lets through but its controller rejects
// when the step runs: a literal memoize key with characters outside the cache key rule, and
// a maxAge that is not a Go duration. Keys built by `{{...}}` tags are checked only when
// nothing is substituted into them.
func runtimeChecks(templates []wfv1.Template) error {
	for _, t := range templates {
		m := t.Memoize
		if m == nil {
			continue
		}
		if !strings.Contains(m.Key, "{{") && !cacheKeyPattern.MatchString(m.Key) {
			return fmt.Errorf("templates.%s.memoize.key %q does not match %s (Argo fails the step at run time: invalid cache key)", t.Name, m.Key, cacheKeyPattern)
		}
		if m.MaxAge != "" && !strings.Contains(m.MaxAge, "{{") {
			if _, err := time.ParseDuration(m.MaxAge); err != nil {
				return fmt.Errorf("templates.%s.memoize.maxAge %q is not a Go duration such as 24h (Argo fails the step at run time)", t.Name, m.MaxAge)
			}
		}
		if m.Cache == nil || m.Cache.ConfigMap == nil || m.Cache.ConfigMap.Name == "" {
			return fmt.Errorf("templates.%s.memoize.cache.configMap.name is required", t.Name)
		}
	}
	return nil
}

func templatesOf(obj interface{}) []wfv1.Template {
	switch v := obj.(type) {
	case *wfv1.Workflow:
		return v.Spec.Templates
	case *wfv1.WorkflowTemplate:
		return v.Spec.Templates
	case *wfv1.ClusterWorkflowTemplate:
		return v.Spec.Templates
	case *wfv1.CronWorkflow:
		return v.Spec.WorkflowSpec.Templates
	}
	return nil
}
