// kubeconfig.go writes the admin kubeconfig, with the CA and client certificate embedded.
package main

import (
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func writeKubeconfig(path, server string, pki pkiFiles) error {
	ca, err := os.ReadFile(pki.CACert)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(pki.AdminCert)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(pki.AdminKey)
	if err != nil {
		return err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["devcluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	config.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	config.Contexts["devcluster"] = &clientcmdapi.Context{Cluster: "devcluster", AuthInfo: "admin", Namespace: "default"}
	config.CurrentContext = "devcluster"
	return clientcmd.WriteToFile(*config, path)
}
