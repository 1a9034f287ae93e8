terraform {
  backend "s3" {
    bucket                   = "state"
    key                      = "app/terraform.tfstate"
    region                   = "us-west-2"
    profile                  = "target"
    shared_credentials_files = ["~/.aws/config"]
  }
}

data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket  = "state"
    key     = "network/terraform.tfstate"
    region  = "us-west-2"
    profile = "target"
  }
}

data "terraform_remote_state" "local" {
  backend = "local"
  config = {
    path = "../network/terraform.tfstate"
  }
}
