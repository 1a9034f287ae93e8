provider "aws" {
  region  = "us-west-2"
  profile = "target-tf"
}

provider "aws" {
  alias = "x"
  region = 
}
