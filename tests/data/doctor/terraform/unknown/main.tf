variable "profile" {}
variable "state" {}

provider "aws" {
  region                   = "us-west-2"
  profile                  = var.profile
  shared_credentials_files = ["${path.module}/credentials"]
}

data "terraform_remote_state" "network" {
  backend = "s3"
  config  = var.state
}
